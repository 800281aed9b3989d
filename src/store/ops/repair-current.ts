/**
 * Puts the current state back in line with the journal for the entities a verification named.
 * The journal is the truth and the current state is derived from it, so each entity gets the
 * journal's newest version — read inside the mutation, so a change committed meanwhile (which
 * writes both) is never undone, unlike a restore to a fixed revision. One new revision records
 * the repair; an entity already in line is left alone.
 */
import type { EntityKind } from "../../model/types.js";
import type { Revision, RevisionMeta, Store } from "../store.js";

export interface EntityRef {
  readonly kind: EntityKind;
  readonly key: string;
}

export async function repairCurrentState(
  store: Store,
  entities: readonly EntityRef[],
  meta: RevisionMeta,
): Promise<Revision | undefined> {
  const seen = new Set<string>();
  const unique = entities.filter((e) => {
    const id = `${e.kind}\0${e.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  // readStored: the damage is in the stored rows; a replica's memory of them is still whole, and
  // compared against it the repair would be "no change".
  const { revision } = await store.mutate(
    meta,
    async (tx) => {
      for (const { kind, key } of unique) {
        const have = await tx.get(kind, key);
        const want = (await store.history(kind, key)).at(-1)?.doc ?? null;
        if (want !== null) tx.put(kind, key, want);
        else if (have !== undefined) tx.delete(kind, key);
      }
    },
    { readStored: true },
  );
  return revision;
}
