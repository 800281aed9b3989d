/**
 * Explicit, retention-bounded compaction of the journal (principle 1: history is kept; purging it
 * is a deliberate maintenance operation, never something the system does on its own).
 *
 * Rules, each refused with a ValidationError and nothing removed:
 * - A change-ticket id is required and recorded (principle 5). Its approval is checked at the API
 *   edge (api/auth/change-control.ts) before this runs: an approved ticket for
 *   `ballast:CompactJournal`, or break-glass.
 * - Only revisions older than the retention period (`retentionDays`, default 90, at least 1) can be
 *   compacted: revision C's commit time must be before `now - retentionDays`.
 * - C must exist. Compacting through a revision already compacted is a no-op.
 * - The journal must verify before anything is removed: a compaction would otherwise destroy the
 *   evidence of tampering (the hashes up to C can no longer be recomputed afterwards).
 * - No live agent (one that reported in the last 30 s) may be running a configuration older than
 *   C: its explicit removals (principle 3) are computed from the journal between its version and
 *   the head, and the compaction removes them. An agent that comes back later from before C gets
 *   removals only from C on, and keeps (and reports as unexplained) what was removed before C.
 */
import { BallastError } from "../../model/errors.js";
import type { CompactionRecord, RevisionMeta, Store } from "../store.js";
import { type ProgressFn, revisionAtTime } from "./snapshot.js";
import { verifyJournal } from "./verify.js";

/** An agent status older than this belongs to an agent that is gone or cut off. */
const LIVE_AGENT_MS = 30_000;

export const DEFAULT_RETENTION_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CompactOptions {
  /** Compact through this revision. Exactly one of `through` and `olderThanDays`. */
  readonly through?: number;
  /** Compact through the newest revision committed more than this many days ago. */
  readonly olderThanDays?: number;
  /** History younger than this is never compacted. Default 90, at least 1. */
  readonly retentionDays?: number;
  /** The change ticket that authorises the purge; required, recorded with the compaction. */
  readonly ticket: string;
  /** Who asks, from where, with which request id (`action` is recorded as given). */
  readonly meta: RevisionMeta;
  /** The clock the retention period is measured with (tests move it instead of sleeping). */
  readonly now?: () => Date;
  readonly onProgress?: (phase: "verify" | "compact", done: number, total: number) => void;
}

export interface CompactResult {
  /** The revision asked for (resolved from `olderThanDays` when given). */
  readonly through: number;
  /** True when this call removed history; false when the journal was already compacted through it. */
  readonly compacted: boolean;
  /** The new record, or the existing one that already covers `through`. */
  readonly record: CompactionRecord;
}

export function retentionDaysOf(value: number | undefined): number {
  const days = value ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isSafeInteger(days) || days < 1) {
    throw new BallastError(
      "ValidationError",
      `the retention period must be a whole number of days, at least 1, not ${days}`,
    );
  }
  return days;
}

export async function compactJournal(store: Store, options: CompactOptions): Promise<CompactResult> {
  const ticket = typeof options.ticket === "string" ? options.ticket.trim() : "";
  if (ticket === "") {
    throw new BallastError(
      "ValidationError",
      "compaction removes history and needs a change ticket: give the id of the approved change ticket",
    );
  }
  const retentionDays = retentionDaysOf(options.retentionDays);
  const now = (options.now ?? (() => new Date()))();
  const through = await resolveThrough(store, options, now);

  const revision = await store.revision(through);
  if (!revision) {
    throw new BallastError(
      "ValidationError",
      `revision ${through} does not exist: the journal's newest revision is ${await store.head()}`,
    );
  }
  const existing = (await store.compactions()).find((c) => c.through >= through);
  if (existing) return { through, compacted: false, record: existing };

  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
  if (!(Date.parse(revision.time) < cutoff.getTime())) {
    throw new BallastError(
      "ValidationError",
      `revision ${through} was committed at ${revision.time}, within the retention period of ${retentionDays} days: only revisions committed before ${cutoff.toISOString()} can be compacted`,
    );
  }

  const liveSince = now.getTime() - LIVE_AGENT_MS;
  const lagging = (await store.agentStatuses()).filter(
    (a) => a.configRevision > 0 && a.configRevision < through && Date.parse(a.time) >= liveSince,
  );
  if (lagging.length > 0) {
    throw new BallastError(
      "ValidationError",
      `agent(s) ${lagging.map((a) => `${a.agentId} (zone ${a.zone}, version ${a.configRevision})`).join(", ")} run a configuration older than revision ${through}; their explicit removals come from the history a compaction removes: let them catch up first`,
    );
  }

  const progress: ProgressFn = (done, total) => options.onProgress?.("verify", done, total);
  const report = await verifyJournal(store, { onProgress: progress, maxDivergences: 1 });
  if (!report.ok) {
    throw new BallastError(
      "ValidationError",
      `the journal does not verify (${report.firstDivergence?.message ?? "see state verify"}); compaction would destroy the evidence: investigate and restore first`,
    );
  }

  options.onProgress?.("compact", 0, 0);
  const record = await store.compact(through, { ...options.meta, ticket });
  if (record) return { through, compacted: true, record };
  // Another compaction through `through` or later committed since the check above.
  const covering = (await store.compactions()).find((c) => c.through >= through);
  if (!covering)
    throw new BallastError("InternalFailure", `compaction through revision ${through} left no record`);
  return { through, compacted: false, record: covering };
}

async function resolveThrough(store: Store, options: CompactOptions, now: Date): Promise<number> {
  const { through, olderThanDays } = options;
  if ((through === undefined) === (olderThanDays === undefined)) {
    throw new BallastError(
      "ValidationError",
      "name what to compact with exactly one of through (a revision) and olderThanDays",
    );
  }
  if (through !== undefined) {
    if (!Number.isSafeInteger(through) || through < 1) {
      throw new BallastError(
        "ValidationError",
        `through must be a revision number of 1 or more, not ${through}`,
      );
    }
    return through;
  }
  const days = olderThanDays as number;
  if (!Number.isFinite(days) || days < 0) {
    throw new BallastError("ValidationError", `olderThanDays must be a number of days, not ${days}`);
  }
  // The newest revision committed strictly before the cutoff.
  const cutoff = new Date(now.getTime() - days * DAY_MS - 1).toISOString();
  const at = await revisionAtTime(store, cutoff);
  if (at === 0) {
    throw new BallastError(
      "ValidationError",
      `no revision is older than ${days} days: there is nothing to compact`,
    );
  }
  return at;
}
