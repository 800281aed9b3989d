/**
 * `ballast state repair`: rebuilds the state when the journal's own rows are damaged — the case the
 * state monitor cannot repair from the store, and that puts the service in read-only mode.
 *
 * Sources, in order, each only as far as it can be trusted:
 * 1. the newest backup in the backup folder whose checksum verifies (the state at its revision);
 * 2. every journal revision after that backup whose hash still matches its recorded changes, in
 *    order (a damaged or missing revision is skipped and named);
 * 3. the current-state row of any entity last written by a damaged revision: that row is the only
 *    remaining copy of the write;
 * 4. what the agents report running (fresh reports, ≤ 30 s): a load balancer they serve that the
 *    result lacks is rebuilt from the reports, as far as they carry it. A report carries, per node,
 *    the load balancer's name, its zone (the agent's), each listener's port and protocol, and the
 *    instance ids the node health-checks. It does not carry the instance port and protocol of a
 *    listener (taken equal to the listener's), certificates, policies, attributes, tags, the
 *    health-check settings (ELB's default is used), the scheme (internet-facing is assumed), subnets
 *    and security groups, nor the DNS name: its id is random and lives only in the journal and the
 *    agents' last-known-good files, so a rebuilt load balancer gets a new DNS name — listed in the
 *    plan as lost. A load balancer the result has is never changed to match the agents: their
 *    reports are evidence, and any difference is listed.
 *
 * The plan is a diff from the current state to the repaired one. Applying it starts a new journal
 * epoch (Store.startEpoch, ops/epoch.ts): the damaged rows are moved aside as evidence and the
 * repaired state becomes the first revision of a fresh chain, numbered above every revision the old
 * journal or any agent had — so agents take it as news, and get no removals from it (the old
 * epoch's history is not there to compute them from): they keep anything it does not state and
 * report it as unexplained.
 */
import { randomBytes } from "node:crypto";
import type { AgentStatus } from "../../model/agent-protocol.js";
import { BallastError } from "../../model/errors.js";
import { defaultHealthCheck, loadBalancerDnsName, loadBalancerIdFrom } from "../../model/load-balancer.js";
import { regionalKey, regionOfZone } from "../../model/region.js";
import { ENTITY_KINDS, type Listener, type LoadBalancer, type Protocol } from "../../model/types.js";
import { GENESIS_HASH, revisionHash } from "../journal.js";
import type { EntityVersion, Revision, RevisionMeta, Store } from "../store.js";
import { listBackups } from "./backups.js";
import { diffStates, type StateDiff } from "./diff.js";
import { diffLines } from "./diff-text.js";
import { type AnyDoc, entityKey } from "./entity.js";
import { JOURNAL_EPOCH_ACTION } from "./epoch.js";
import { exportToState, readExportFile } from "./export.js";
import { applyVersions, currentState, emptyEntityMaps, type State, stateEntries } from "./snapshot.js";
import { JOURNAL_DAMAGE, verifyJournal } from "./verify.js";

/** Agent statuses older than this are not evidence of what runs now. */
const FRESH_STATUS_MS = 30_000;

export interface RepairOptions {
  /** The folder of scheduled backups (`<data-dir>/backups`). */
  readonly backupDir: string;
  /** The DNS domain, for the new DNS name of a load balancer rebuilt from agent reports. */
  readonly dnsDomain: string;
  readonly now?: Date;
}

export interface RebuiltLoadBalancer {
  readonly name: string;
  readonly zones: readonly string[];
  readonly listeners: readonly string[];
  readonly instances: readonly string[];
  /** What the agents' reports could not give back. */
  readonly lost: readonly string[];
}

export interface JournalRepairPlan {
  readonly head: number;
  /** The journal's own rows verify: nothing to repair here (applying is refused). */
  readonly journalVerified: boolean;
  /** What failed verification (up to 20). */
  readonly damage: readonly string[];
  readonly backup: { readonly file: string; readonly revision: number; readonly time: string } | undefined;
  /** Backups passed over, newest first, and why. */
  readonly backupsRefused: readonly string[];
  /** Revisions after the backup replayed because their hash checks out. */
  readonly revisionsReplayed: number;
  /** Revisions after the backup skipped: missing or not matching their hash. */
  readonly damagedRevisions: readonly number[];
  /** Entities taken from the current state because a damaged revision wrote them last. */
  readonly fromCurrent: readonly string[];
  readonly fromAgents: readonly RebuiltLoadBalancer[];
  /** Differences between the repaired state and what agents serve (not applied; evidence). */
  readonly agentDifferences: readonly string[];
  /** The number the new epoch's first revision will have. */
  readonly epochRevision: number;
  readonly diff: StateDiff;
  readonly lines: readonly string[];
}

/** The plan and the state it would write (the state stays in memory; only the plan is shown). */
export interface PlannedRepair {
  readonly plan: JournalRepairPlan;
  readonly target: State;
  readonly anchor: string;
}

export async function planJournalRepair(store: Store, options: RepairOptions): Promise<PlannedRepair> {
  const report = await verifyJournal(store, { maxDivergences: 20 });
  const head = report.head;
  const entities = emptyEntityMaps();
  let base = 0;
  let backup: JournalRepairPlan["backup"];
  const backupsRefused: string[] = [];
  // A backup taken at or after the first damaged revision may hold the damage: only older ones.
  const firstDamage = Math.min(
    ...report.divergences.filter((d) => JOURNAL_DAMAGE.has(d.type)).map((d) => d.revision),
  );
  for (const b of await listBackups(options.backupDir)) {
    if (b.revision >= firstDamage) {
      backupsRefused.push(
        `${b.file}: taken at revision ${b.revision}, at or after the damage at revision ${firstDamage}`,
      );
      continue;
    }
    try {
      const doc = await readExportFile(b.path, { key: store.codec.key });
      const state = exportToState(doc, store.codec);
      for (const kind of ENTITY_KINDS) {
        const into = entities[kind] as Map<string, AnyDoc>;
        for (const [key, d] of state.entities[kind]) into.set(key, d);
      }
      base = doc.revision;
      backup = { file: b.file, revision: doc.revision, time: b.time };
      break;
    } catch (e) {
      backupsRefused.push(`${b.file}: ${(e as Error).message}`);
    }
  }

  // Journal revisions after the backup, each only if its own hash still checks out.
  const damaged: number[] = [];
  let replayed = 0;
  const BATCH = 2000;
  for (let lo = base; lo < head; lo += BATCH) {
    const hi = Math.min(lo + BATCH, head);
    const [revisions, changes] = await Promise.all([store.revisions(lo, hi), store.changes(lo, hi)]);
    const byRevision = new Map<number, EntityVersion[]>();
    for (const c of changes) {
      const list = byRevision.get(c.revision);
      if (list) list.push(c);
      else byRevision.set(c.revision, [c]);
    }
    const present = new Map(revisions.map((r) => [r.number, r]));
    for (let n = lo + 1; n <= hi; n++) {
      const r = present.get(n);
      const versions = byRevision.get(n) ?? [];
      if (r !== undefined && intact(r, versions)) {
        applyVersions(entities, versions);
        replayed++;
      } else damaged.push(n);
    }
  }

  // The current row of an entity a damaged revision wrote last is the only copy of that write.
  const damagedSet = new Set(damaged);
  const fromCurrent: string[] = [];
  for (const kind of ENTITY_KINDS) {
    for (const c of await store.list(kind)) {
      if (!damagedSet.has(c.revision)) continue;
      const key = entityKey(kind, c.doc);
      (entities[kind] as Map<string, AnyDoc>).set(key, c.doc);
      fromCurrent.push(`${kind} '${key}' (revision ${c.revision})`);
    }
  }

  // What the agents serve: the repaired state never drops it; what it lacks is rebuilt.
  const now = options.now ?? new Date();
  const allStatuses = await store.agentStatuses();
  const statuses = allStatuses.filter((s) => now.getTime() - Date.parse(s.time) <= FRESH_STATUS_MS);
  const { rebuilt, differences } = fromAgentReports(statuses, entities.loadBalancer, options.dnsDomain, now);
  for (const lb of rebuilt)
    entities.loadBalancer.set(regionalKey(lb.doc.region ?? "us-east-1", lb.doc.name), lb.doc);

  const target: State = { revision: head, entities };
  const diff = diffStates(await currentState(store), target);
  const lastRevision = (await store.revisions(head - 1, head))[0];
  // Above every revision any agent ever reported, fresh or not: an agent back from a long outage
  // must see the new epoch as news, never as a revision it already has.
  const agentsMax = Math.max(0, ...allStatuses.map((s) => s.configRevision));
  const plan: JournalRepairPlan = {
    head,
    // Differences of the current state alone are the state monitor's to repair from the journal.
    journalVerified: !report.divergences.some((d) => JOURNAL_DAMAGE.has(d.type)),
    damage: report.divergences.map((d) => `revision ${d.revision} ${d.type}: ${d.message}`),
    backup,
    backupsRefused,
    revisionsReplayed: replayed,
    damagedRevisions: damaged,
    fromCurrent,
    fromAgents: rebuilt.map((r) => r.summary),
    agentDifferences: differences,
    epochRevision: Math.max(head, agentsMax) + 1,
    diff,
    lines: diffLines(diff),
  };
  return { plan, target, anchor: lastRevision?.hash ?? GENESIS_HASH };
}

export interface AppliedRepair {
  readonly plan: JournalRepairPlan;
  readonly revision: Revision;
  readonly evidence: readonly string[];
}

/**
 * Plans again and applies: the repaired state becomes the first revision of a new epoch. Refused
 * when the journal verifies (nothing to repair: use restore) or the driver cannot start an epoch.
 */
export async function applyJournalRepair(
  store: Store,
  options: RepairOptions,
  meta: Omit<RevisionMeta, "action">,
): Promise<AppliedRepair> {
  if (store.startEpoch === undefined)
    throw new BallastError("ValidationError", `the ${store.driver} store cannot start a new journal epoch`);
  const { plan, target, anchor } = await planJournalRepair(store, options);
  if (plan.journalVerified)
    throw new BallastError(
      "ValidationError",
      "the journal's own rows verify: there is nothing to repair (the controller repairs the current state from the journal by itself; use 'ballast state restore' to go back to an earlier state)",
    );
  const { revision, evidence } = await store.startEpoch({
    number: plan.epochRevision,
    anchor,
    meta: { ...meta, action: JOURNAL_EPOCH_ACTION },
    entities: stateEntries(target),
  });
  return { plan, revision, evidence };
}

function intact(r: Revision, versions: readonly EntityVersion[]): boolean {
  const changes = versions.map((v) => ({ kind: v.kind, key: v.key, doc: v.doc }));
  return revisionHash(r.prevHash, r.number, r.time, r, changes) === r.hash;
}

interface Rebuilt {
  readonly doc: LoadBalancer;
  readonly summary: RebuiltLoadBalancer;
}

function fromAgentReports(
  statuses: readonly AgentStatus[],
  have: ReadonlyMap<string, LoadBalancer>,
  dnsDomain: string,
  now: Date,
): { rebuilt: Rebuilt[]; differences: string[] } {
  interface Seen {
    region: string;
    zones: Set<string>;
    listeners: Map<number, Protocol>;
    instances: Set<string>;
  }
  const seen = new Map<string, Seen>();
  for (const s of statuses) {
    const region = regionOfZone(s.zone) ?? "us-east-1";
    for (const n of s.nodes) {
      const id = regionalKey(region, n.loadBalancer);
      const e = seen.get(id) ?? { region, zones: new Set(), listeners: new Map(), instances: new Set() };
      e.zones.add(s.zone);
      for (const l of n.listeners) e.listeners.set(l.port, l.protocol);
      seen.set(id, e);
    }
    for (const h of s.health) {
      const e = seen.get(regionalKey(region, h.loadBalancer));
      if (e && !h.draining) e.instances.add(h.instanceId);
    }
  }
  const rebuilt: Rebuilt[] = [];
  const differences: string[] = [];
  for (const [key, e] of [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const name = key.includes("/") ? key.slice(key.indexOf("/") + 1) : key;
    const lb = have.get(key);
    if (lb !== undefined) {
      const ports = new Set(lb.listeners.map((l) => l.loadBalancerPort));
      for (const p of e.listeners.keys())
        if (!ports.has(p))
          differences.push(`load balancer ${name}: agents serve listener ${p}, the repaired state lacks it`);
      const ids = new Set(lb.instances);
      for (const i of e.instances)
        if (!ids.has(i))
          differences.push(
            `load balancer ${name}: agents route to instance ${i}, the repaired state lacks it`,
          );
      continue;
    }
    const listeners: Listener[] = [...e.listeners]
      .sort(([a], [b]) => a - b)
      .map(([port, protocol]) => ({
        protocol,
        loadBalancerPort: port,
        instanceProtocol: protocol,
        instancePort: port,
      }));
    const id = loadBalancerIdFrom(randomBytes(16));
    const doc: LoadBalancer = {
      name,
      region: e.region,
      id,
      dnsName: loadBalancerDnsName(name, id, "internet-facing", { region: e.region, dnsDomain }),
      createdTime: now.toISOString(),
      scheme: "internet-facing",
      listeners,
      availabilityZones: [...e.zones].sort(),
      subnets: [],
      securityGroups: [],
      healthCheck: defaultHealthCheck(listeners),
      instances: [...e.instances].sort(),
      tags: [],
    };
    rebuilt.push({
      doc,
      summary: {
        name,
        zones: doc.availabilityZones,
        listeners: listeners.map((l) => `${l.protocol}:${l.loadBalancerPort}`),
        instances: doc.instances,
        lost: [
          "DNS name (a new one is given)",
          "instance ports and protocols (taken equal to the listeners')",
          "health check (ELB's default)",
          "certificates, policies, attributes, tags, scheme, subnets, security groups",
        ],
      },
    });
  }
  return { rebuilt, differences };
}
