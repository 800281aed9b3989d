/**
 * Point-in-time reads of the whole state. The state at a revision is the replay of the journal up
 * to it: one pass over the entity versions, fetched in large revision ranges, never one query per
 * entity — a restore of 100,000 entities must take seconds, not the hours of December 2012.
 */
import { BallastError } from "../../model/errors.js";
import { ENTITY_KINDS, type EntityKind, type EntityTypes } from "../../model/types.js";
import { compactedMessage } from "../journal.js";
import type { EntityVersion, Store } from "../store.js";
import { type AnyDoc, compareKeys, entityKey } from "./entity.js";
import { epochStart } from "./epoch.js";

export type EntityMaps = { readonly [K in EntityKind]: ReadonlyMap<string, EntityTypes[K]> };
type MutableEntityMaps = { [K in EntityKind]: Map<string, EntityTypes[K]> };

/** The whole desired state as of one revision. */
export interface State {
  readonly revision: number;
  readonly entities: EntityMaps;
}

export interface StateEntry {
  readonly kind: EntityKind;
  readonly key: string;
  readonly doc: AnyDoc;
}

export type ProgressFn = (done: number, total: number) => void;

/** How many revisions one `changes()` call covers during a replay. */
export const REPLAY_BATCH = 2000;

export function emptyEntityMaps(): MutableEntityMaps {
  return Object.fromEntries(ENTITY_KINDS.map((k) => [k, new Map()])) as unknown as MutableEntityMaps;
}

function copyEntityMaps(from: EntityMaps): MutableEntityMaps {
  const maps = emptyEntityMaps();
  for (const k of ENTITY_KINDS) {
    const into = maps[k] as Map<string, EntityTypes[EntityKind]>;
    for (const [key, doc] of from[k]) into.set(key, doc);
  }
  return maps;
}

export function emptyState(revision = 0): State {
  return { revision, entities: emptyEntityMaps() };
}

/** Applies entity versions, oldest first, to maps: a tombstone removes, anything else replaces. */
export function applyVersions(maps: MutableEntityMaps, versions: readonly EntityVersion[]): void {
  for (const v of versions) {
    const m = maps[v.kind] as Map<string, AnyDoc> | undefined;
    if (!m) throw new BallastError("InternalFailure", `journal holds an unknown entity kind '${v.kind}'`);
    if (v.doc === null) m.delete(v.key);
    else m.set(v.key, v.doc);
  }
}

/**
 * Walks the journal's entity versions in `(from, to]` in batches of revision ranges, calling
 * `onBatch` with each batch in order. Returns nothing; progress is reported per batch.
 */
export async function forEachChangeBatch(
  store: Store,
  from: number,
  to: number,
  onBatch: (versions: readonly EntityVersion[], batchFrom: number, batchTo: number) => void,
  onProgress?: ProgressFn,
  batch = REPLAY_BATCH,
): Promise<void> {
  const total = to - from;
  for (let lo = from; lo < to; lo += batch) {
    const hi = Math.min(lo + batch, to);
    onBatch(await store.changes(lo, hi), lo, hi);
    onProgress?.(hi - from, total);
  }
}

/** Checks that `at` names a revision that exists (0 is the empty journal before revision 1). */
export async function requireRevision(store: Store, at: number): Promise<number> {
  if (!Number.isSafeInteger(at) || at < 0) {
    throw new BallastError("ValidationError", `revision must be a whole number of 0 or more, not ${at}`);
  }
  const head = await store.head();
  if (at > head) {
    throw new BallastError(
      "NotFound",
      `revision ${at} does not exist: the journal's newest revision is ${head}`,
    );
  }
  return head;
}

/**
 * Checks that the journal still knows the state at `at`: a revision below the one it is
 * compacted through is refused. `asked` names what resolved to `at` (a time), for the message.
 */
export async function requireKept(store: Store, at: number, asked?: string): Promise<void> {
  const epoch = await epochStart(store);
  if (epoch !== undefined && at < epoch.number) {
    throw new BallastError(
      "ValidationError",
      `${asked ?? `revision ${at}`} is before the journal's current epoch, which starts at revision ${epoch.number} (${epoch.action} by ${epoch.principal} at ${epoch.time}); the earlier journal is kept only as evidence in the database's *_epoch tables`,
    );
  }
  const compacted = await store.compactedThrough();
  if (at < compacted) {
    throw new BallastError(
      "ValidationError",
      asked === undefined
        ? compactedMessage(at, compacted)
        : `${asked} falls at revision ${at}, which was compacted (history is kept from revision ${compacted})`,
    );
  }
}

/** The whole state as it stood at revision `at`, by replay of the journal. */
export async function stateAt(store: Store, at: number, onProgress?: ProgressFn): Promise<State> {
  await requireRevision(store, at);
  await requireKept(store, at);
  const maps = emptyEntityMaps();
  await forEachChangeBatch(store, 0, at, (versions) => applyVersions(maps, versions), onProgress);
  return { revision: at, entities: maps };
}

/** A later state from an earlier one, replaying only the revisions between; `state` is untouched. */
export async function advanceState(
  store: Store,
  state: State,
  to: number,
  onProgress?: ProgressFn,
): Promise<State> {
  await requireRevision(store, to);
  if (to < state.revision) {
    throw new BallastError(
      "ValidationError",
      `cannot advance a state at revision ${state.revision} back to ${to}`,
    );
  }
  const maps = copyEntityMaps(state.entities);
  await forEachChangeBatch(
    store,
    state.revision,
    to,
    (versions) => applyVersions(maps, versions),
    onProgress,
  );
  return { revision: to, entities: maps };
}

/**
 * The state the drivers hold as current, read with `list()` of every kind. Retried until no
 * commit landed between the reads, so the kinds are consistent with each other and `revision`.
 */
export async function currentState(store: Store): Promise<State> {
  for (let attempt = 0; ; attempt++) {
    const before = await store.head();
    const maps = emptyEntityMaps();
    for (const kind of ENTITY_KINDS) {
      const m = maps[kind] as Map<string, AnyDoc>;
      for (const c of await store.list(kind)) m.set(entityKey(kind, c.doc), c.doc);
    }
    const after = await store.head();
    if (before === after) return { revision: after, entities: maps };
    if (attempt >= 10) {
      throw new BallastError("ServiceUnavailable", "the store kept changing while its state was being read");
    }
  }
}

/**
 * The newest revision committed at or before `time` (0 when the journal starts after it).
 * Revision times come from the committing writer's clock and are assumed not to go backwards,
 * so this is a binary search of O(log n) single-revision reads.
 */
export async function revisionAtTime(store: Store, time: string): Promise<number> {
  const t = Date.parse(time);
  if (Number.isNaN(t)) throw new BallastError("ValidationError", `'${time}' is not an ISO 8601 time`);
  let lo = 0;
  let hi = await store.head();
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const r = await store.revision(mid);
    if (!r) throw new BallastError("InternalFailure", `revision ${mid} is missing from the journal`);
    if (Date.parse(r.time) <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Every entity of a state, sorted by kind then key: a stable form for export and comparison. */
export function stateEntries(state: State, kinds: readonly EntityKind[] = ENTITY_KINDS): StateEntry[] {
  const out: StateEntry[] = [];
  for (const kind of kinds) {
    const m = state.entities[kind] as ReadonlyMap<string, AnyDoc>;
    for (const key of [...m.keys()].sort(compareKeys)) {
      const doc = m.get(key);
      if (doc !== undefined) out.push({ kind, key, doc });
    }
  }
  return out;
}

export function entityCount(state: State): number {
  let n = 0;
  for (const kind of ENTITY_KINDS) n += state.entities[kind].size;
  return n;
}
