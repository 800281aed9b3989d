/**
 * Checks that the journal is whole and that the current state is what it says. Walks every
 * revision once: the `prevHash` link, the recomputed hash over the revision's own changes, and
 * no gaps; then compares the drivers' current state with the replay of the journal. The 2012
 * failure — state logically deleted behind the journal's back — shows up here as an entity the
 * journal has and the current state lacks, named with the revision that last wrote it.
 *
 * After a compaction through revision C the revisions up to C no longer hold all their changes,
 * so their hashes cannot be recomputed: their links are checked, and the state at C — replayed
 * from the versions kept — must match the digest the compaction recorded (and revision C the hash
 * it had then). Everything after C is checked in full, as before.
 *
 * A check that passed leaves a checkpoint (the revision and hash it reached, the replayed state,
 * the count of journal rows up to there). The next check may resume from it: it reads that the
 * revision still has its hash and that no row up to it is gone (`Store.journalRows`), walks only
 * what came after, and compares the current state as always. A row edited in place under the
 * journal's guard is found only by a whole walk, which the state monitor still runs regularly.
 */
import { ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import { GENESIS_HASH, revisionHash, stateDigest } from "../journal.js";
import type { EntityVersion, JournalRows, Revision, Store } from "../store.js";
import type { AnyDoc } from "./entity.js";
import { epochStart } from "./epoch.js";
import { type ProgressFn, REPLAY_BATCH } from "./snapshot.js";
import { compareState, readCurrent } from "./verify-current.js";

export type DivergenceType =
  | "missing-revision"
  | "broken-link"
  | "hash-mismatch"
  | "orphan-version"
  | "missing-from-current"
  | "extra-in-current"
  | "doc-differs"
  | "revision-differs"
  | "compaction-mismatch";

/** Divergences of the journal's own rows: nothing in the store can repair them (the rest are the
 *  current state's, which is derived from the journal). */
export const JOURNAL_DAMAGE: ReadonlySet<DivergenceType> = new Set<DivergenceType>([
  "missing-revision",
  "broken-link",
  "hash-mismatch",
  "orphan-version",
  "compaction-mismatch",
]);

export interface Divergence {
  readonly type: DivergenceType;
  /** The revision the divergence is found at: the journal revision, or for a state difference
   *  the revision that last wrote the entity (the head for an entity the journal never had). */
  readonly revision: number;
  readonly kind?: EntityKind;
  readonly key?: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly head: number;
  readonly revisionsChecked: number;
  /** The revision the journal is compacted through (0: never compacted). */
  readonly compactedThrough: number;
  /** Of `revisionsChecked`, how many (those up to `compactedThrough`) had only their link checked. */
  readonly linkCheckedOnly: number;
  readonly entitiesChecked: number;
  /**
   * The revision the journal's current epoch starts at (`ballast state repair`; ops/epoch.ts), when
   * it was repaired: the walk starts there, and the rows of earlier epochs are evidence, not checked.
   */
  readonly epoch?: {
    readonly revision: number;
    readonly time: string;
    readonly principal: string;
    readonly reason: string;
  };
  /** The earliest problem: journal problems by revision first, then state differences. */
  readonly firstDivergence: Divergence | undefined;
  /** Up to `maxDivergences` problems, in the same order. */
  readonly divergences: readonly Divergence[];
  readonly truncated: boolean;
  /** When the check passed: where the next one may resume. */
  readonly checkpoint?: VerifyCheckpoint;
  /** Whether this check resumed from a checkpoint (walked only the revisions after it). */
  readonly resumed: boolean;
}

export interface VerifyOptions {
  readonly onProgress?: ProgressFn;
  readonly maxDivergences?: number;
  readonly batch?: number;
  /** Resume from the checkpoint of an earlier check that passed (the journal is read again up to it only by count). */
  readonly resume?: VerifyCheckpoint;
}

/** Where a check that passed left off (`VerifyReport.checkpoint`); owned by whoever resumes from it. */
export interface VerifyCheckpoint {
  readonly walked: number;
  readonly prevHash: string;
  readonly replay: Map<EntityKind, Map<string, Replayed>>;
  readonly revisionsChecked: number;
  readonly linkCheckedOnly: number;
  /** The journal as it was: its epoch's first revision, its compactions, its rows up to `walked`. */
  readonly epochRevision: number | undefined;
  readonly compactions: number;
  readonly rows: JournalRows;
}

export interface Replayed {
  readonly doc: AnyDoc | null;
  readonly revision: number;
}

export async function verifyJournal(
  store: Store,
  onProgressOrOptions?: ProgressFn | VerifyOptions,
): Promise<VerifyReport> {
  const opts: VerifyOptions =
    typeof onProgressOrOptions === "function"
      ? { onProgress: onProgressOrOptions }
      : (onProgressOrOptions ?? {});
  const max = opts.maxDivergences ?? 100;
  const batch = opts.batch ?? REPLAY_BATCH;
  const journal: Divergence[] = [];
  let journalCount = 0;
  const note = (d: Divergence): void => {
    journalCount++;
    if (journal.length < max) journal.push(d);
  };

  let replay = new Map<EntityKind, Map<string, Replayed>>(ENTITY_KINDS.map((k) => [k, new Map()]));
  let walked = 0;
  let prevHash = GENESIS_HASH;
  const epoch = await epochStart(store);
  if (epoch !== undefined) {
    walked = epoch.number - 1;
    prevHash = epoch.prevHash;
  }
  let revisionsChecked = 0;
  let linkCheckedOnly = 0;
  const compactions = await store.compactions();
  const compacted = compactions.at(-1);
  const compactedThrough = compacted?.through ?? 0;
  const resumed =
    opts.resume !== undefined && (await resumable(store, opts.resume, epoch?.number, compactions.length));
  if (resumed && opts.resume !== undefined) {
    ({ walked, prevHash, replay, revisionsChecked, linkCheckedOnly } = opts.resume);
  }

  const walk = async (to: number, total: number): Promise<void> => {
    for (let lo = walked; lo < to; lo += batch) {
      const hi = Math.min(lo + batch, to);
      const [revisions, changes] = await Promise.all([store.revisions(lo, hi), store.changes(lo, hi)]);
      const byRevision = groupByRevision(changes);
      let expected = lo + 1;
      for (const r of revisions) {
        for (; expected < r.number; expected++) {
          note({ type: "missing-revision", revision: expected, message: `revision ${expected} is missing` });
        }
        expected = r.number + 1;
        const linkOnly = r.number <= compactedThrough;
        prevHash = checkRevision(r, prevHash, linkOnly ? undefined : (byRevision.get(r.number) ?? []), note);
        byRevision.delete(r.number);
        revisionsChecked++;
        if (linkOnly) linkCheckedOnly++;
      }
      for (; expected <= hi; expected++) {
        note({ type: "missing-revision", revision: expected, message: `revision ${expected} is missing` });
      }
      for (const [n, orphans] of byRevision) {
        const first = orphans[0];
        note({
          type: "orphan-version",
          revision: n,
          message: `${orphans.length} entity version(s) (first ${first?.kind} '${first?.key}') belong to revision ${n}, which is missing`,
        });
      }
      for (const v of changes) replay.get(v.kind)?.set(v.key, { doc: v.doc, revision: v.revision });
      walked = hi;
      opts.onProgress?.(hi, total);
    }
  };

  const start = await store.head();
  if (compacted && !resumed) {
    if (compacted.through > start) {
      note({
        type: "compaction-mismatch",
        revision: compacted.through,
        message: `the journal is recorded as compacted through revision ${compacted.through}, beyond its head ${start}`,
      });
    } else {
      await walk(compacted.through, start);
      checkCompactedState(replay, compacted.stateHash, compacted.through, note);
    }
    for (const c of compactions) {
      const r = await store.revision(c.through);
      if (r && r.hash !== c.throughHash) {
        note({
          type: "compaction-mismatch",
          revision: c.through,
          message: `revision ${c.through} has hash ${short(r.hash)} but was ${short(c.throughHash)} when the journal was compacted through it`,
        });
      }
    }
  }
  await walk(start, start);
  // The current state is read after the walk; if commits landed meanwhile, walk them too so both
  // sides describe the same revision.
  // The walk then reaches exactly the revision the current state was read at.
  const current = await readCurrent(store);
  if (current.revision > walked) await walk(current.revision, current.revision);
  const head = walked;

  journal.sort((a, b) => a.revision - b.revision);
  const state = compareState(replay, current.entities, head);
  const divergences = [...journal, ...state.slice(0, Math.max(0, max - journal.length))];
  const totalCount = journalCount + state.length;
  const checkpoint: VerifyCheckpoint | undefined =
    totalCount === 0
      ? {
          walked: head,
          prevHash,
          replay,
          revisionsChecked,
          linkCheckedOnly,
          epochRevision: epoch?.number,
          compactions: compactions.length,
          rows: await store.journalRows(head),
        }
      : undefined;
  return {
    ok: totalCount === 0,
    resumed,
    ...(checkpoint === undefined ? {} : { checkpoint }),
    head,
    revisionsChecked,
    compactedThrough,
    linkCheckedOnly,
    entitiesChecked: current.count,
    ...(epoch === undefined
      ? {}
      : {
          epoch: {
            revision: epoch.number,
            time: epoch.time,
            principal: epoch.principal,
            reason: epoch.ticket ?? "",
          },
        }),
    firstDivergence: divergences[0],
    divergences,
    truncated: totalCount > divergences.length,
  };
}

/**
 * Whether the journal up to a checkpoint is still the one verified: the same epoch and
 * compactions, the checkpoint's revision with the same hash, and as many rows up to it.
 */
async function resumable(
  store: Store,
  c: VerifyCheckpoint,
  epochRevision: number | undefined,
  compactions: number,
): Promise<boolean> {
  if (c.epochRevision !== epochRevision || c.compactions !== compactions) return false;
  const [revision, rows] = await Promise.all([store.revision(c.walked), store.journalRows(c.walked)]);
  if (c.walked > 0 && revision?.hash !== c.prevHash) return false;
  return rows.revisions === c.rows.revisions && rows.versions === c.rows.versions;
}

/** The replay as of the compaction must be the state the compaction recorded it kept. */
function checkCompactedState(
  replay: Map<EntityKind, Map<string, Replayed>>,
  expected: string,
  through: number,
  note: (d: Divergence) => void,
): void {
  const entries: { kind: string; key: string; revision: number; doc: AnyDoc }[] = [];
  for (const [kind, m] of replay) {
    for (const [key, v] of m)
      if (v.doc !== null) entries.push({ kind, key, revision: v.revision, doc: v.doc });
  }
  const actual = stateDigest(entries);
  if (actual !== expected) {
    note({
      type: "compaction-mismatch",
      revision: through,
      message: `the state at revision ${through} replayed from the kept versions hashes to ${short(actual)}, but the compaction through it recorded ${short(expected)}: kept versions were altered or removed`,
    });
  }
}

/** `changes` undefined: a compacted revision, whose link alone can be checked. */
function checkRevision(
  r: Revision,
  prevHash: string,
  changes: readonly EntityVersion[] | undefined,
  note: (d: Divergence) => void,
): string {
  if (r.prevHash !== prevHash) {
    note({
      type: "broken-link",
      revision: r.number,
      message: `revision ${r.number} links to ${short(r.prevHash)} but revision ${r.number - 1} has hash ${short(prevHash)}`,
    });
  }
  if (changes === undefined) return r.hash;
  const pending = changes.map((c) => ({ kind: c.kind, key: c.key, doc: c.doc }));
  const recomputed = revisionHash(r.prevHash, r.number, r.time, r, pending);
  if (recomputed !== r.hash) {
    note({
      type: "hash-mismatch",
      revision: r.number,
      message: `revision ${r.number} (${r.action} by ${r.principal} at ${r.time}) has hash ${short(r.hash)} but its recorded changes hash to ${short(recomputed)}: its changes or metadata were altered`,
    });
  }
  // The next link is checked against what this revision claims, so one altered hash is reported
  // once as a mismatch here and once as the broken link after it, not as a cascade.
  return r.hash;
}

function groupByRevision(changes: readonly EntityVersion[]): Map<number, EntityVersion[]> {
  const out = new Map<number, EntityVersion[]>();
  for (const c of changes) {
    const list = out.get(c.revision);
    if (list) list.push(c);
    else out.set(c.revision, [c]);
  }
  return out;
}

function short(hash: string): string {
  return hash.slice(0, 12);
}
