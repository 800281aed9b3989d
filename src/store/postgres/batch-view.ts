/**
 * What a group-commit batch reads when the replica's in-memory state is exactly the committed
 * state: the batch holds the journal lock, so nobody commits until it ends, and if the memory's
 * head is the journal's newest revision the memory IS the committed state. Reads then cost no
 * round trip to PostgreSQL: the memory, overlaid with what the batch's earlier mutations wrote,
 * overlaid with the mutation's own writes so far — exactly what the same reads inside the
 * transaction would return.
 */
import type { EntityKind, EntityTypes } from "../../model/types.js";
import { canonicalJson, collapseWrites, type PendingChange } from "../journal.js";
import type { DocCodec } from "../secrets/codec.js";
import { hasSecrets } from "../secrets/codec.js";
import type { Current, EntityDifference, EntityVersion, MutationTx, Revision } from "../store.js";

/** A replica's state in memory, read synchronously. */
export interface CommittedCache {
  /** The revision the state in memory is exactly at. */
  cachedHead(): number;
  cachedGet(kind: EntityKind, key: string): Current<EntityKind> | undefined;
  /** Any order (the view sorts). */
  cachedList(kind: EntityKind): readonly { readonly key: string; readonly doc: EntityTypes[EntityKind] }[];
  /**
   * The batch committed these revisions right after `from`, the head the memory was at: apply them
   * now, so the memory is at the journal's head for the next batch with no read at all.
   */
  applyCommitted(from: number, revisions: readonly Appended[]): void;
  /**
   * Another replica's revisions after `from`, read by a batch under the journal lock: apply them,
   * so the batch can read the memory. Ignored unless the memory is still at `from` and the
   * revisions follow it without a gap.
   */
  applyJournal(from: number, revisions: readonly Revision[], versions: readonly EntityVersion[]): void;
}

/** A revision a batch appended, with its changes as the mutation gave them. */
export interface Appended {
  readonly revision: Revision;
  readonly changes: readonly PendingChange[];
}

type Doc = EntityTypes[EntityKind];

export class BatchView {
  readonly #cache: CommittedCache;
  /** What the batch's earlier mutations wrote (null: deleted), by `kind\0key`. */
  readonly #written = new Map<string, { kind: EntityKind; key: string; doc: Doc | null }>();

  constructor(cache: CommittedCache) {
    this.#cache = cache;
  }

  /** The committed document as this point of the batch sees it. */
  doc(kind: EntityKind, key: string): Doc | undefined {
    const w = this.#written.get(id(kind, key));
    if (w !== undefined) return w.doc ?? undefined;
    return this.#cache.cachedGet(kind, key)?.doc;
  }

  /** The `tx` of one mutation of the batch; `differencesFrom` still asks the database. */
  tx(
    writes: PendingChange[],
    differencesFrom: (at: number, kinds: readonly EntityKind[]) => Promise<readonly EntityDifference[]>,
  ): MutationTx {
    const own = (kind: EntityKind, key: string): PendingChange | undefined => {
      for (let i = writes.length - 1; i >= 0; i--) {
        const w = writes[i];
        if (w && w.kind === kind && w.key === key) return w;
      }
      return undefined;
    };
    return {
      get: async <K extends EntityKind>(kind: K, key: string) => {
        const p = own(kind, key);
        if (p) return (p.doc ?? undefined) as EntityTypes[K] | undefined;
        return this.doc(kind, key) as EntityTypes[K] | undefined;
      },
      list: async <K extends EntityKind>(kind: K) => {
        const out = new Map<string, Doc>();
        for (const e of this.#cache.cachedList(kind)) out.set(e.key, e.doc);
        for (const w of [...this.#written.values(), ...collapseWrites(writes)]) {
          if (w.kind !== kind) continue;
          if (w.doc === null) out.delete(w.key);
          else out.set(w.key, w.doc);
        }
        return [...out.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([, d]) => d as EntityTypes[K]);
      },
      put: (kind, key, doc) => {
        writes.push({ kind, key, doc });
      },
      delete: (kind, key) => {
        writes.push({ kind, key, doc: null });
      },
      differencesFrom,
    };
  }

  /**
   * The writes that change something, with the text to store — the same decision as
   * `effectiveWrites` (journal-tx.ts) makes from the stored rows: a delete of an absent entity and
   * a put of an equal document are dropped.
   */
  effective(
    writes: readonly PendingChange[],
    codec: DocCodec,
  ): { changes: PendingChange[]; texts: (string | null)[] } {
    const changes: PendingChange[] = [];
    const texts: (string | null)[] = [];
    for (const w of writes) {
      const now = this.doc(w.kind, w.key);
      if (w.doc === null) {
        if (now === undefined) continue;
        changes.push(w);
        texts.push(null);
        continue;
      }
      if (now !== undefined && canonicalJson(now) === canonicalJson(w.doc)) continue;
      changes.push(w);
      texts.push(hasSecrets(w.kind) ? codec.encode(w.kind, w.key, w.doc) : JSON.stringify(w.doc));
    }
    return { changes, texts };
  }

  /** Records what a mutation of the batch appended, for the ones after it. */
  record(changes: readonly PendingChange[]): void {
    for (const c of changes) this.#written.set(id(c.kind, c.key), { kind: c.kind, key: c.key, doc: c.doc });
  }
}

function id(kind: string, key: string): string {
  return `${kind}\u0000${key}`;
}
