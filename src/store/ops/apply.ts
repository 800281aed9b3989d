/**
 * Makes the store's state equal a target state, as ONE new revision: a put for every entity that
 * differs, a tombstone for every entity that exists now but not in the target. Restore and import
 * both end here, so the journal keeps every version from before — a restore is undoable by
 * restoring to the revision just before it.
 */
import type { EntityKind } from "../../model/types.js";
import type { EntityDifference, MutationTx, Revision, RevisionMeta, Store } from "../store.js";
import { diffStates, type StateDiff } from "./diff.js";
import { type AnyDoc, docsEqual, entityKey } from "./entity.js";
import { emptyEntityMaps, type ProgressFn, type State, stateAt } from "./snapshot.js";

/** Which entities the target speaks for: everything of some kinds, or some keys of one kind. */
export type Scope =
  | { readonly kinds: readonly EntityKind[] }
  | {
      readonly kinds: readonly EntityKind[];
      readonly keys: { readonly [K in EntityKind]?: readonly string[] };
    };

export interface ApplyResult {
  /** The appended revision, or undefined when the store already held the target. */
  readonly revision: Revision | undefined;
  /** From the state just before the new revision to the state it made, within the scope. */
  readonly diff: StateDiff;
}

export async function applyState(
  store: Store,
  target: State,
  scope: Scope,
  meta: RevisionMeta,
): Promise<ApplyResult> {
  let before: State | undefined;
  let after: State | undefined;
  const { revision } = await store.mutate(meta, async (tx) => {
    // Runs again on fresh state if another writer got in first, so read and compare inside.
    [before, after] = await writeTarget(tx, target, scope);
  });
  return finish(store, revision, before, after);
}

/**
 * Makes the state within `scope` equal the journal's state at revision `at`, as one new revision.
 *
 * With a driver that has `MutationTx.differencesFrom`, the store compares the state at `at` with
 * the current state itself and hands back only the entities that differ: the cost is one query
 * plus the changed entities, not a replay and a parse of the whole state. Otherwise the state at
 * `at` is replayed (once: a past revision never changes) and compared like `applyState`.
 */
export async function applyRevision(
  store: Store,
  at: number,
  scope: Scope,
  meta: RevisionMeta,
  onProgress?: ProgressFn,
): Promise<ApplyResult> {
  let before: State | undefined;
  let after: State | undefined;
  let replayed: State | undefined;
  const { revision } = await store.mutate(meta, async (tx) => {
    if (tx.differencesFrom) {
      [before, after] = writeDifferences(tx, await tx.differencesFrom(at, scope.kinds), scope);
      onProgress?.(at, at);
      return;
    }
    replayed ??= await stateAt(store, at, onProgress);
    [before, after] = await writeTarget(tx, replayed, scope);
  });
  return finish(store, revision, before, after);
}

/** The before and after states of the entities a mutation changes (unchanged ones left out). */
type Sides = [State, State];

async function writeTarget(tx: MutationTx, target: State, scope: Scope): Promise<Sides> {
  const now = await readScope(tx, scope);
  const next = emptyEntityMaps();
  for (const kind of scope.kinds) {
    const have = now[kind] as Map<string, AnyDoc>;
    const want = target.entities[kind] as ReadonlyMap<string, AnyDoc>;
    const nextKind = next[kind] as Map<string, AnyDoc>;
    const keys = "keys" in scope && scope.keys[kind] ? scope.keys[kind] : undefined;
    for (const key of keys ?? new Set([...have.keys(), ...want.keys()])) {
      const h = have.get(key);
      const w = want.get(key);
      if (w !== undefined) nextKind.set(key, w);
      if (w === undefined && h !== undefined) tx.delete(kind, key);
      else if (w !== undefined && !docsEqual(h, w)) tx.put(kind, key, w);
    }
  }
  return [
    { revision: -1, entities: now },
    { revision: -1, entities: next },
  ];
}

function writeDifferences(tx: MutationTx, differences: readonly EntityDifference[], scope: Scope): Sides {
  const now = emptyEntityMaps();
  const next = emptyEntityMaps();
  const only = new Map<EntityKind, Set<string>>();
  if ("keys" in scope) {
    for (const kind of scope.kinds) {
      const keys = scope.keys[kind];
      if (keys) only.set(kind, new Set(keys));
    }
  }
  for (const d of differences) {
    const keys = only.get(d.kind);
    if (keys && !keys.has(d.key)) continue;
    // Byte-different but equal documents (key order) are no change.
    if (docsEqual(d.past, d.now)) continue;
    if (d.now !== undefined) (now[d.kind] as Map<string, AnyDoc>).set(d.key, d.now);
    if (d.past === undefined) tx.delete(d.kind, d.key);
    else {
      (next[d.kind] as Map<string, AnyDoc>).set(d.key, d.past);
      tx.put(d.kind, d.key, d.past);
    }
  }
  return [
    { revision: -1, entities: now },
    { revision: -1, entities: next },
  ];
}

async function finish(
  store: Store,
  revision: Revision | undefined,
  before: State | undefined,
  after: State | undefined,
): Promise<ApplyResult> {
  const base = revision ? revision.number - 1 : await store.head();
  const diff = diffStates(
    { revision: base, entities: before?.entities ?? emptyEntityMaps() },
    { revision: revision?.number ?? base, entities: after?.entities ?? emptyEntityMaps() },
  );
  return { revision, diff };
}

async function readScope(tx: MutationTx, scope: Scope): Promise<ReturnType<typeof emptyEntityMaps>> {
  const maps = emptyEntityMaps();
  for (const kind of scope.kinds) {
    const m = maps[kind] as Map<string, AnyDoc>;
    const keys = "keys" in scope ? scope.keys[kind] : undefined;
    if (keys) {
      for (const key of keys) {
        const doc = await tx.get(kind, key);
        if (doc !== undefined) m.set(key, doc);
      }
    } else {
      for (const doc of await tx.list(kind)) m.set(entityKey(kind, doc), doc);
    }
  }
  return maps;
}
