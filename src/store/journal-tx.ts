/**
 * The driver-independent half of a journal transaction: the view a mutation reads through, which
 * of its writes change anything, and the revision they append. A driver supplies only its reads
 * and its inserts, so both drivers decide "no change" and number revisions the same way.
 */
import type { EntityKind, EntityTypes } from "../model/types.js";
import { canonicalJson, collapseWrites, GENESIS_HASH, type PendingChange, revisionHash } from "./journal.js";
import type { DocCodec } from "./secrets/codec.js";
import { hasSecrets } from "./secrets/codec.js";
import type { EntityDifference, MutationTx, Revision, RevisionMeta } from "./store.js";

/** Committed state as a driver reads it for one mutation attempt; a driver may record the reads. */
export interface CommittedReads {
  /** The stored document text of one entity; undefined if absent. */
  doc(kind: EntityKind, key: string): Promise<string | undefined>;
  /** Every stored entity of one kind. */
  docs(kind: EntityKind): Promise<Iterable<{ readonly key: string; readonly doc: string }>>;
  differencesFrom(at: number, kinds: readonly EntityKind[]): Promise<readonly EntityDifference[]>;
}

/** The `tx` of a mutation: committed state overlaid with the writes it made so far (into `writes`). */
export function mutationTx(committed: CommittedReads, writes: PendingChange[], codec: DocCodec): MutationTx {
  const pending = (kind: EntityKind, key: string): PendingChange | undefined => {
    for (let i = writes.length - 1; i >= 0; i--) {
      const w = writes[i];
      if (w && w.kind === kind && w.key === key) return w;
    }
    return undefined;
  };
  return {
    get: async <K extends EntityKind>(kind: K, key: string) => {
      const p = pending(kind, key);
      if (p) return (p.doc ?? undefined) as EntityTypes[K] | undefined;
      const doc = await committed.doc(kind, key);
      return doc === undefined ? undefined : codec.decode(kind, key, doc);
    },
    list: async <K extends EntityKind>(kind: K) => {
      const out = new Map<string, EntityTypes[K]>();
      for (const row of await committed.docs(kind)) out.set(row.key, codec.decode(kind, row.key, row.doc));
      for (const w of collapseWrites(writes)) {
        if (w.kind !== kind) continue;
        if (w.doc === null) out.delete(w.key);
        else out.set(w.key, w.doc as EntityTypes[K]);
      }
      return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
    },
    put: (kind, key, doc) => {
      writes.push({ kind, key, doc });
    },
    delete: (kind, key) => {
      writes.push({ kind, key, doc: null });
    },
    differencesFrom: (at, kinds) => committed.differencesFrom(at, kinds),
  };
}

/**
 * The writes that change something, each with the text to store (null for a tombstone): a delete
 * of an absent entity and a put of an equal document are dropped. `stored` gives the current text.
 * The changes are the documents as given — the hash covers those, never what the database re-reads.
 * The texts are what the database stores: the documents with their secret fields sealed by `codec`
 * (this and the reads through `codec.decode` are the store's one encryption boundary).
 */
export function effectiveWrites(
  writes: readonly PendingChange[],
  stored: (kind: EntityKind, key: string) => string | undefined,
  codec: DocCodec,
): { changes: PendingChange[]; texts: (string | null)[] } {
  const changes: PendingChange[] = [];
  const texts: (string | null)[] = [];
  for (const w of writes) {
    const doc = stored(w.kind, w.key);
    if (w.doc === null) {
      if (doc === undefined) continue;
      changes.push(w);
      texts.push(null);
      continue;
    }
    const secret = hasSecrets(w.kind);
    const text = secret ? codec.encode(w.kind, w.key, w.doc) : JSON.stringify(w.doc);
    // Stored text is what JSON.stringify made of an equal document, so equal text decides the
    // common case without parsing; otherwise compare canonical forms (of the plain documents:
    // sealing uses a fresh IV each time, so a sealed text never equals another).
    if (
      doc !== undefined &&
      ((!secret && doc === text) || canonicalJson(codec.decode(w.kind, w.key, doc)) === canonicalJson(w.doc))
    )
      continue;
    changes.push(w);
    texts.push(text);
  }
  return { changes, texts };
}

/** The revision that appends `changes` after `last`, the newest revision (undefined: none yet). */
export function nextRevision(
  last: { readonly number: number; readonly hash: string } | undefined,
  meta: RevisionMeta,
  changes: readonly PendingChange[],
): Revision {
  const number = (last?.number ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  const time = new Date().toISOString();
  const hash = revisionHash(prevHash, number, time, meta, changes);
  return { ...meta, number, time, prevHash, hash };
}

/**
 * Runs jobs one at a time, in call order; a failed job does not stop the next. A store's mutations
 * and compactions queue here, so none of them starts between another's reads and its commit.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.#waiting++;
    const run = this.#tail
      .then(() => job())
      .finally(() => {
        this.#waiting--;
      });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Whether a job is running or waiting. */
  get busy(): boolean {
    return this.#waiting > 0;
  }

  /** Settles once every job queued so far has. */
  idle(): Promise<unknown> {
    return this.#tail;
  }
}
