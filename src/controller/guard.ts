/**
 * The controller's side of the blast-radius guard: every document is measured (model/guard.ts)
 * before it goes to an agent. A held document is not sent — the zone's agents keep what they
 * run — and stays held, with an alarm, until an operator releases it (it then goes out, marked
 * released so the agents' own guard lets it through) or discards it (its removals are dropped
 * and never reach the agents).
 *
 * Holds are derived: they are recomputed from the journal and the agents' revisions on every
 * poll, so a restarted control plane holds the same change again. Releases and discards are
 * stored (Store.appendGuardDecision, with who, when and under which ticket or break-glass
 * reason) and read back on every check, so a restarted control plane, or another replica,
 * honours them.
 */
import type { AgentConfig, AgentStatus } from "../model/agent-protocol.js";
import {
  DEFAULT_GUARD_THRESHOLDS,
  type DecisionAuthority,
  type GuardDecision,
  type GuardHold,
  type GuardThresholds,
  measureChange,
} from "../model/guard.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";

const CONTROLLER: DecisionAuthority = { principal: "ballast-controller" };

/** Agent statuses older than this do not count as what the zone observes. */
const FRESH_STATUS_MS = 30_000;

export interface ChangeGuardOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly thresholds?: GuardThresholds;
  /** Whether the stored state passes verification now (a failing state holds every removal). */
  readonly stateVerified?: () => boolean;
}

export class ChangeGuard {
  readonly #opts: ChangeGuardOptions;
  readonly #holds = new Map<string, GuardHold>();
  /** Per zone: removals up to this revision were released by an operator. */
  readonly #released = new Map<string, number>();
  /** Per zone: removals up to this revision were discarded by an operator. */
  readonly #discarded = new Map<string, number>();
  readonly #actions = new Map<number, string>();
  readonly #listeners = new Set<() => void>();

  constructor(opts: ChangeGuardOptions) {
    this.#opts = opts;
  }

  /** The held changes, one per zone. */
  holds(): GuardHold[] {
    return [...this.#holds.values()];
  }

  /** Called when a hold is released or discarded (waiting polls re-check). */
  onDecision(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /**
   * The document to send an agent of `doc.zone` that runs revision `have`: `doc` itself when it
   * passes, with removals an operator discarded left out and a release mark when one covers it;
   * null when it is held. A delta document states only what changed: `stated` counts what a full
   * document would state, asked only when the delta removes enough load balancers for the share
   * threshold to matter, so a delta is held exactly when the full document would be.
   */
  async check(doc: AgentConfig, have: number, stated?: () => Promise<number>): Promise<AgentConfig | null> {
    const zone = doc.zone;
    await this.#readDecisions();
    const discarded = this.#discarded.get(zone) ?? 0;
    const released = this.#released.get(zone) ?? 0;
    const removals = doc.removals.filter((r) => r.revision > discarded);
    const pending = removals.filter((r) => r.revision > released);
    await this.#loadActions(pending.map((r) => r.revision));
    const thresholds = this.#opts.thresholds ?? DEFAULT_GUARD_THRESHOLDS;
    const removedLbs = new Set(
      pending.filter((r) => r.kind === "loadBalancer" && r.moved !== true).map((r) => r.loadBalancer),
    ).size;
    const statedLoadBalancers =
      doc.delta !== undefined && removedLbs >= thresholds.minLoadBalancersForShare
        ? await (stated ?? (async () => doc.loadBalancers.length))()
        : undefined;
    const verdict = measureChange({
      doc: { ...doc, removals: pending },
      actionOf: (n) => this.#actions.get(n),
      inService: pending.length === 0 ? new Map() : await this.#inService(zone),
      stateUnverified: !(this.#opts.stateVerified?.() ?? true),
      thresholds,
      ...(statedLoadBalancers === undefined ? {} : { statedLoadBalancers }),
    });
    const existing = this.#holds.get(zone);
    if (verdict.held) {
      if (existing === undefined || existing.toRevision !== doc.revision) {
        const hold = {
          zone,
          fromRevision: have,
          toRevision: doc.revision,
          since: new Date().toISOString(),
          verdict,
        };
        this.#holds.set(zone, hold);
        this.#opts.logger.error("configuration change held by the blast-radius guard", {
          zone,
          fromRevision: have,
          toRevision: doc.revision,
          reasons: verdict.reasons,
        });
      }
      return null;
    }
    // Documents are per agent under placement: another agent of the zone whose document at the same
    // revision removes nothing does not end a hold; the held change passing, or a newer one, does —
    // and so does a stored decision on it (made here before a restart, or by another replica).
    const decided = existing !== undefined && Math.max(released, discarded) >= existing.toRevision;
    if (
      existing !== undefined &&
      (decided ||
        doc.revision > existing.toRevision ||
        (doc.revision === existing.toRevision && pending.length > 0))
    )
      this.#holds.delete(zone);
    // Removals an operator released would trip the agents' own guard: the document says so.
    const out: AgentConfig = { ...doc, removals };
    return pending.length < removals.length ? { ...out, release: { revision: doc.revision } } : out;
  }

  /** Lets the zone's held change go out. Returns the hold released, or undefined if none was held. */
  release(zone: string, by: DecisionAuthority = CONTROLLER): Promise<GuardHold | undefined> {
    return this.#decide(zone, "released", by);
  }

  /** Drops the held change's removals for good: the agents keep what they run. */
  discard(zone: string, by: DecisionAuthority = CONTROLLER): Promise<GuardHold | undefined> {
    return this.#decide(zone, "discarded", by);
  }

  async #decide(
    zone: string,
    decision: GuardDecision["decision"],
    by: DecisionAuthority,
  ): Promise<GuardHold | undefined> {
    const hold = this.#holds.get(zone);
    if (hold === undefined) return undefined;
    const record: GuardDecision = {
      time: new Date().toISOString(),
      zone,
      decision,
      throughRevision: hold.toRevision,
      principal: by.principal,
      ...(by.ticket === undefined ? {} : { ticket: by.ticket }),
      ...(by.breakGlass === undefined ? {} : { breakGlass: by.breakGlass }),
    };
    // Stored before it takes effect: a decision that is not kept is not made.
    await this.#opts.store.appendGuardDecision(record);
    this.#apply(record);
    this.#holds.delete(zone);
    this.#opts.logger.warn(`held configuration change ${decision}`, {
      zone,
      toRevision: hold.toRevision,
      principal: by.principal,
      ticket: by.ticket,
      breakGlass: by.breakGlass,
      reasons: hold.verdict.reasons,
    });
    for (const cb of this.#listeners) cb();
    return hold;
  }

  #apply(d: GuardDecision): void {
    const marks = d.decision === "released" ? this.#released : this.#discarded;
    marks.set(d.zone, Math.max(marks.get(d.zone) ?? 0, d.throughRevision));
  }

  /** The stored decisions (this replica's, a predecessor's, another replica's). */
  async #readDecisions(): Promise<void> {
    for (const d of await this.#opts.store.guardDecisions()) this.#apply(d);
  }

  /** Reads (once per revision) the action of each revision a removal comes from. */
  async #loadActions(revisions: readonly number[]): Promise<void> {
    for (const n of new Set(revisions)) {
      if (this.#actions.has(n)) continue;
      const r = await this.#opts.store.revision(n);
      if (r !== undefined) this.#actions.set(n, r.action);
    }
  }

  async #inService(zone: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const now = Date.now();
    const statuses: readonly AgentStatus[] = await this.#opts.store.agentStatuses();
    for (const s of statuses) {
      if (s.zone !== zone || now - Date.parse(s.time) > FRESH_STATUS_MS) continue;
      for (const h of s.health) {
        if (h.state !== "InService") continue;
        const set = out.get(h.loadBalancer) ?? new Set<string>();
        set.add(h.instanceId);
        out.set(h.loadBalancer, set);
      }
    }
    return out;
  }
}
