/**
 * A replica's cache of entity histories (replica-store.ts). The controller asks for the history of
 * every load balancer no agent holds on every pass; under a steady stream of writes those were
 * most of the queries a replica sent. A history read from the database is kept only when it is
 * exactly the history as of the replica's head (nothing applied there while it was read, and no
 * version above the head in it), so it agrees with the state in memory; it is dropped when a
 * version of its entity is applied, and every one is dropped when history may have been rewritten
 * (a compaction, a new epoch) or missed (a reload).
 */
import type { EntityKind } from "../../model/types.js";
import type { EntityVersion } from "../store.js";

/** Past this many entities the cache starts again (an upper bound on its memory). */
const MAX_KEPT = 100_000;

export class HistoryCache {
  readonly #kept = new Map<string, readonly EntityVersion[]>();
  #generation = 0;
  #reads = 0;

  /** Histories read from the database (the rest came from the cache). */
  get reads(): number {
    return this.#reads;
  }

  /** The entity's history: kept, or `load`ed and kept if the replica's `head` held still meanwhile. */
  async read(
    kind: EntityKind,
    key: string,
    head: () => number,
    load: () => Promise<readonly EntityVersion[]>,
  ): Promise<readonly EntityVersion[]> {
    const id = idOf(kind, key);
    const kept = this.#kept.get(id);
    if (kept !== undefined) return kept;
    const at = head();
    const generation = this.#generation;
    this.#reads++;
    const versions = Object.freeze(await load());
    if (at === head() && generation === this.#generation && versions.every((v) => v.revision <= at)) {
      if (this.#kept.size >= MAX_KEPT) this.#kept.clear();
      this.#kept.set(id, versions);
    }
    return versions;
  }

  /** A version of the entity was applied: its kept history is out of date. */
  forget(kind: EntityKind, key: string): void {
    this.#kept.delete(idOf(kind, key));
  }

  /** History may have been rewritten or missed: read every one again. */
  forgetAll(): void {
    this.#kept.clear();
    this.#generation++;
  }
}

function idOf(kind: EntityKind, key: string): string {
  return `${kind}\u0000${key}`;
}
