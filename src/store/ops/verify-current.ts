/**
 * The second half of `verifyJournal` (verify.ts): the current state read at one revision, and
 * compared entity by entity with the journal's replay up to that revision.
 */
import { ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import type { Store } from "../store.js";
import { type AnyDoc, compareKeys, docsEqual, entityKey } from "./entity.js";
import type { Divergence, Replayed } from "./verify.js";

/** The current state as of `revision`, by kind and key. */
export interface CurrentRead {
  readonly revision: number;
  readonly count: number;
  readonly entities: Map<EntityKind, Map<string, { doc: AnyDoc; revision: number }>>;
}

/** Reads the current state at one revision: one snapshot where the store has it, else until the head holds still. */
export async function readCurrent(store: Store): Promise<CurrentRead> {
  if (store.currentSnapshot !== undefined) {
    const { head, entries } = await store.currentSnapshot();
    const entities = new Map<EntityKind, Map<string, { doc: AnyDoc; revision: number }>>(
      ENTITY_KINDS.map((k) => [k, new Map()]),
    );
    for (const { kind, current } of entries)
      entities.get(kind)?.set(entityKey(kind, current.doc), { doc: current.doc, revision: current.revision });
    let count = 0;
    for (const m of entities.values()) count += m.size;
    return { revision: head, count, entities };
  }
  for (;;) {
    const before = await store.head();
    const entities = new Map<EntityKind, Map<string, { doc: AnyDoc; revision: number }>>();
    let count = 0;
    for (const kind of ENTITY_KINDS) {
      const m = new Map<string, { doc: AnyDoc; revision: number }>();
      for (const c of await store.list(kind))
        m.set(entityKey(kind, c.doc), { doc: c.doc, revision: c.revision });
      count += m.size;
      entities.set(kind, m);
    }
    if ((await store.head()) === before) return { revision: before, count, entities };
  }
}

/** Every entity where the current state and the journal's replay disagree, by revision. */
export function compareState(
  replay: Map<EntityKind, Map<string, Replayed>>,
  current: CurrentRead["entities"],
  head: number,
): Divergence[] {
  const out: Divergence[] = [];
  for (const kind of ENTITY_KINDS) {
    const want = replay.get(kind) ?? new Map<string, Replayed>();
    const have = current.get(kind) ?? new Map();
    const keys = new Set<string>();
    for (const [k, v] of want) if (v.doc !== null) keys.add(k);
    for (const k of have.keys()) keys.add(k);
    for (const key of [...keys].sort(compareKeys)) {
      const w = want.get(key);
      const h = have.get(key);
      const id = `${kind} '${key}'`;
      if (w?.doc == null && h) {
        out.push({
          type: "extra-in-current",
          kind,
          key,
          revision: w?.revision ?? head,
          message: w
            ? `${id} is in the current state but the journal deleted it at revision ${w.revision}`
            : `${id} is in the current state but the journal never wrote it`,
        });
      } else if (w?.doc != null && !h) {
        out.push({
          type: "missing-from-current",
          kind,
          key,
          revision: w.revision,
          message: `${id} is missing from the current state; the journal last wrote it at revision ${w.revision}`,
        });
      } else if (w?.doc != null && h) {
        if (!docsEqual(w.doc, h.doc)) {
          out.push({
            type: "doc-differs",
            kind,
            key,
            revision: w.revision,
            message: `${id} in the current state differs from the journal's version at revision ${w.revision}`,
          });
        } else if (w.revision !== h.revision) {
          out.push({
            type: "revision-differs",
            kind,
            key,
            revision: w.revision,
            message: `${id} is recorded as of revision ${h.revision} but the journal last wrote it at revision ${w.revision}`,
          });
        }
      }
    }
  }
  return out.sort((a, b) => a.revision - b.revision);
}
