/**
 * Detect and repair (principle 6): the controller keeps checking that the stored state is whole —
 * the hash chain, the current state against a replay of the journal, and the store against what
 * the agents report running — on a quiet system too, every few seconds.
 *
 * - Damage to the current state alone (rows deleted or edited behind the API's back, the 2012
 *   failure) is repaired at once from the journal, as a new revision that says so.
 * - Damage to the journal itself, or agents running revisions or load balancers the store does
 *   not have, cannot be repaired from the store: the monitor reports the state unverified, which
 *   holds every removal at the blast-radius guard, and raises an alarm until it passes again.
 */
import { randomUUID } from "node:crypto";
import type { AgentStatus } from "../model/agent-protocol.js";
import type { StateAlarm, StateCheck } from "../model/guard.js";
import type { ActiveController } from "../model/leadership.js";
import type { ReadOnlyIncident, WriteGate } from "../model/read-only.js";
import { type EntityRef, repairCurrentState } from "../store/ops/repair-current.js";
import {
  type Divergence,
  JOURNAL_DAMAGE,
  type VerifyCheckpoint,
  type VerifyReport,
  verifyJournal,
} from "../store/ops/verify.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";

/**
 * Checks between two that walk the whole journal: the others resume from the last check that
 * passed (ops/verify.ts), walking only the revisions after it. A deleted journal row is seen by
 * every check; a row edited in place, under a guard someone dropped, by the next whole walk.
 */
const WHOLE_WALK_EVERY = 12;

/** Agent statuses older than this are not evidence of what runs now. */
const FRESH_STATUS_MS = 30_000;

export const REPAIR_ACTION = "RepairCurrentState";

/** A check's verdict, with the divergences found before any repair. */
export interface StateCheckDetail extends StateCheck {
  readonly divergences: readonly Divergence[];
}

export interface StateMonitorOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Seconds between checks (default 5). */
  readonly intervalSeconds?: number;
  /**
   * Repairs run only while this says the process is the active controller (a standby replica
   * leaves them to the active one). Checks run on every replica: each must know, to refuse
   * changes itself, when the journal is damaged (read-only mode). Default: always active.
   */
  readonly active?: ActiveController;
}

export class StateMonitor implements WriteGate {
  readonly #opts: StateMonitorOptions;
  #last: StateCheckDetail | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<StateCheckDetail> | undefined;
  #repairs = 0;
  #stopped = true;
  #alarmed = "";
  #readOnly: ReadOnlyIncident | undefined;
  /** Where the last check that passed left off, and checks since the last whole walk. */
  #checkpoint: VerifyCheckpoint | undefined;
  #sinceWholeWalk = 0;
  #wholeWalks = 0;
  #resumedChecks = 0;

  constructor(opts: StateMonitorOptions) {
    this.#opts = opts;
  }

  /** The last check's verdict; true until the first check has run. */
  get verified(): boolean {
    return this.#last?.verified ?? true;
  }

  get last(): StateCheckDetail | undefined {
    return this.#last;
  }

  /**
   * Read-only mode: set by the first check that finds the journal's own rows damaged, cleared by
   * the first check that finds them whole again (after `ballast state repair`).
   */
  readOnly(): ReadOnlyIncident | undefined {
    return this.#readOnly;
  }

  /** Automatic repairs of the current state since start. */
  get repairs(): number {
    return this.#repairs;
  }

  /**
   * Checks now, then again `intervalSeconds` after each check — or, when a check is slow (it walks
   * the whole journal), three times its duration after it, so checking never takes more than a
   * quarter of the controller's time.
   */
  start(): void {
    const every = (this.#opts.intervalSeconds ?? 5) * 1000;
    this.#stopped = false;
    const tick = (): void => {
      const t0 = performance.now();
      this.check()
        .catch((err: unknown) => this.#opts.logger.error("state check failed", { err }))
        .finally(() => {
          if (this.#stopped) return;
          this.#timer = setTimeout(tick, Math.max(every, 3 * (performance.now() - t0)));
          this.#timer.unref();
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One check (and repair); concurrent calls share the one in progress. */
  check(): Promise<StateCheckDetail> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<StateCheckDetail> {
    let report = await this.#verify();
    const divergences = report.divergences;
    const journalDamaged = divergences.some((d) => JOURNAL_DAMAGE.has(d.type));
    if (!report.ok && !journalDamaged) {
      await this.#repair(divergences);
      report = await this.#verify();
    }
    const alarms: StateAlarm[] = [];
    const damage = report.divergences.find((d) => JOURNAL_DAMAGE.has(d.type));
    if (damage === undefined) this.#readOnly = undefined;
    else if (this.#readOnly === undefined) {
      this.#readOnly = {
        since: new Date().toISOString(),
        alarm: "journal-damaged",
        detail: `the state journal fails verification at revision ${damage.revision} (${damage.type}: ${damage.message})`,
      };
      this.#opts.logger.error("read-only mode: the journal is damaged; changes are refused", {
        ...this.#readOnly,
      });
    }
    if (!report.ok) {
      const first = report.firstDivergence;
      alarms.push({
        kind: "journal-damaged",
        message: `the journal fails verification at revision ${first?.revision ?? "?"}: ${first?.message ?? "unknown"}`,
      });
    }
    alarms.push(...(await this.#compareWithAgents(report.head)));
    const check: StateCheckDetail = {
      verified: alarms.length === 0,
      checkedAt: new Date().toISOString(),
      head: report.head,
      alarms,
      repairs: this.#repairs,
      divergences,
    };
    this.#last = check;
    this.#logAlarms(alarms);
    return check;
  }

  /** Verifies the journal: from the last check that passed, or every WHOLE_WALK_EVERY checks whole. */
  async #verify(): Promise<VerifyReport> {
    const resume = this.#sinceWholeWalk < WHOLE_WALK_EVERY ? this.#checkpoint : undefined;
    this.#checkpoint = undefined; // the walk updates it in place: only a passing check hands it back
    const report = await verifyJournal(this.#opts.store, {
      maxDivergences: 100,
      ...(resume === undefined ? {} : { resume }),
    });
    this.#sinceWholeWalk = report.resumed ? this.#sinceWholeWalk + 1 : 0;
    this.#checkpoint = report.checkpoint;
    if (report.resumed) this.#resumedChecks++;
    else this.#wholeWalks++;
    return report;
  }

  /** State checks that walked the whole journal, and those that resumed from the last one that passed. */
  get walks(): { readonly whole: number; readonly resumed: number } {
    return { whole: this.#wholeWalks, resumed: this.#resumedChecks };
  }

  /** The entities the verification named get the journal's newest version, as one new revision. */
  async #repair(divergences: readonly Divergence[]): Promise<void> {
    // A standby (or one that lost the controller lock during the check): the active one repairs.
    if (this.#opts.active?.isActive() === false) {
      this.#opts.logger.debug("repair left to the active controller", {
        divergences: divergences.length,
      });
      return;
    }
    const entities: EntityRef[] = [];
    for (const d of divergences)
      if (d.kind !== undefined && d.key !== undefined) entities.push({ kind: d.kind, key: d.key });
    const revision = await repairCurrentState(this.#opts.store, entities, {
      principal: "ballast-controller",
      sourceIp: "127.0.0.1",
      requestId: randomUUID(),
      action: REPAIR_ACTION,
    });
    if (revision === undefined) return;
    this.#repairs++;
    this.#opts.logger.warn("current state repaired from the journal", {
      revision: revision.number,
      entities: entities.length,
      first: divergences[0]?.message,
    });
  }

  /** What the agents report running that the store cannot explain. */
  async #compareWithAgents(head: number): Promise<StateAlarm[]> {
    const store = this.#opts.store;
    const now = Date.now();
    const fresh = (await store.agentStatuses()).filter(
      (s: AgentStatus) => now - Date.parse(s.time) <= FRESH_STATUS_MS,
    );
    const alarms: StateAlarm[] = [];
    const ahead = fresh.filter((s) => s.configRevision > head);
    if (ahead.length > 0) {
      alarms.push({
        kind: "agents-ahead-of-journal",
        message: `agent(s) ${ahead.map((s) => `${s.agentId} (revision ${s.configRevision})`).join(", ")} run revisions the journal, whose head is ${head}, does not have`,
      });
    }
    const known = new Set((await store.list("loadBalancer")).map((c) => c.doc.name));
    const unknown = new Set<string>();
    for (const s of fresh)
      for (const n of s.nodes) if (!known.has(n.loadBalancer)) unknown.add(n.loadBalancer);
    // An agent that has not yet taken a delete still serves the load balancer: only a name the
    // journal never deleted is unexplained.
    for (const name of [...unknown]) {
      const history = await store.history("loadBalancer", name);
      if (history.at(-1)?.doc === null) unknown.delete(name);
    }
    if (unknown.size > 0) {
      alarms.push({
        kind: "agents-serve-unknown",
        message: `agents serve load balancer(s) the store does not have and never deleted: ${[...unknown].sort().join(", ")}`,
      });
    }
    return alarms;
  }

  #logAlarms(alarms: readonly StateAlarm[]): void {
    const key = alarms.map((a) => a.message).join("\n");
    if (key === this.#alarmed) return;
    this.#alarmed = key;
    if (alarms.length === 0) this.#opts.logger.info("stored state verified");
    for (const a of alarms) this.#opts.logger.error("state alarm", { alarm: a.kind, message: a.message });
  }
}
