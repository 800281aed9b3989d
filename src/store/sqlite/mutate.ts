/**
 * Mutations of the SQLite journal. The callback runs outside any transaction and each read records
 * the revision it saw; the commit, one IMMEDIATE transaction, checks those are unchanged (another
 * process may write the same file) before it appends the revision, so no update is lost.
 */
import type Database from "better-sqlite3";
import { collapseWrites, type PendingChange } from "../journal.js";
import { effectiveWrites, mutationTx, nextRevision } from "../journal-tx.js";
import {
  type CurrentRow,
  type DifferenceRow,
  REVISION_COLUMNS,
  revisionValues,
  toDifference,
} from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { MutationResult, MutationTx, Revision, RevisionMeta } from "../store.js";
import { DIFFERENCES_SQL } from "./schema.js";

const MAX_ATTEMPTS = 20;
/** The read-set entry for "the journal's head": set by bulk reads that depend on every entity. */
const HEAD_READ = "\u0000head";

export class ConflictError extends Error {}

/** The store's prepared reads, shared with its writer rather than prepared twice. */
export interface CurrentReads {
  readonly getOne: Database.Statement<[string, string], CurrentRow>;
  readonly listKind: Database.Statement<[string], CurrentRow & { key: string }>;
  head(): number;
}

export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #reads: CurrentReads;
  readonly #codec: DocCodec;
  // Prepared once: preparing a statement costs about as much as running a small one.
  readonly #kindHeadStmt: Database.Statement<[string], { r: number | null }>;
  readonly #lastRevision: Database.Statement<[], { number: number; hash: string }>;
  readonly #insRevision: Database.Statement<unknown[]>;
  readonly #insVersion: Database.Statement<unknown[]>;
  readonly #upsertCurrent: Database.Statement<unknown[]>;
  readonly #delCurrent: Database.Statement<unknown[]>;
  readonly #differences: Database.Statement<[{ at: number; kinds: string }], DifferenceRow>;
  #appended = 0;

  constructor(db: Database.Database, codec: DocCodec, reads: CurrentReads) {
    this.#db = db;
    this.#codec = codec;
    this.#reads = reads;
    this.#kindHeadStmt = db.prepare("SELECT MAX(revision) AS r FROM versions WHERE kind = ?");
    this.#lastRevision = db.prepare("SELECT number, hash FROM revisions ORDER BY number DESC LIMIT 1");
    this.#insRevision = db.prepare(
      `INSERT INTO revisions (${REVISION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insVersion = db.prepare("INSERT INTO versions (kind, key, revision, doc) VALUES (?, ?, ?, ?)");
    this.#upsertCurrent = db.prepare(
      `INSERT INTO current (kind, key, revision, doc) VALUES (?, ?, ?, ?)
       ON CONFLICT(kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc`,
    );
    this.#delCurrent = db.prepare("DELETE FROM current WHERE kind = ? AND key = ?");
    this.#differences = db.prepare(DIFFERENCES_SQL);
  }

  /** Revisions appended through this connection: the store's cached reads are stale once it moves. */
  get appended(): number {
    return this.#appended;
  }

  /** Runs `fn` until its reads are still current at commit; `notify` hears of the appended revision. */
  async mutate<T>(
    meta: RevisionMeta,
    fn: (tx: MutationTx) => Promise<T>,
    notify: (revision: Revision) => void,
  ): Promise<MutationResult<T>> {
    for (let attempt = 1; ; attempt++) {
      // Every commit appends a revision, so a head that has not moved since before the first read
      // proves every read is still current: the commit then skips checking them one by one.
      const startHead = this.#reads.head();
      const reads = new Map<string, number>();
      const writes: PendingChange[] = [];
      const result = await fn(this.#tx(reads, writes));
      try {
        const revision = this.#commit(meta, startHead, reads, collapseWrites(writes));
        if (revision) notify(revision);
        return { revision, result };
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }

  /** The mutation's view; every committed read goes into `reads` with the revision it saw. */
  #tx(reads: Map<string, number>, writes: PendingChange[]): MutationTx {
    const { getOne, listKind } = this.#reads;
    return mutationTx(
      {
        doc: async (kind, key) => {
          const row = getOne.get(kind, key);
          reads.set(`${kind}\u0000${key}`, row?.revision ?? 0);
          return row?.doc;
        },
        docs: async (kind) => {
          const rows = listKind.all(kind);
          for (const row of rows) reads.set(`${kind}\u0000${row.key}`, row.revision);
          reads.set(`${kind}\u0000*`, this.#kindHead(kind));
          return rows;
        },
        differencesFrom: async (at, kinds) => {
          // One read transaction, so the head recorded is the one the differences were read at.
          const [head, rows] = this.#db.transaction(
            () => [this.#reads.head(), this.#differences.all({ at, kinds: JSON.stringify(kinds) })] as const,
          )();
          reads.set(HEAD_READ, head);
          return rows.map((r) => toDifference(r, this.#codec));
        },
      },
      writes,
      this.#codec,
    );
  }

  #kindHead(kind: string): number {
    return this.#kindHeadStmt.get(kind)?.r ?? 0;
  }

  #commit(
    meta: RevisionMeta,
    startHead: number,
    reads: Map<string, number>,
    writes: PendingChange[],
  ): Revision | undefined {
    const getOne = this.#reads.getOne;
    const txn = this.#db.transaction((): Revision | undefined => {
      const last = this.#lastRevision.get();
      if ((last?.number ?? 0) !== startHead) {
        for (const [id, seen] of reads) {
          let now: number;
          if (id === HEAD_READ) now = last?.number ?? 0;
          else {
            const [kind, key] = id.split("\u0000") as [string, string];
            now = key === "*" ? this.#kindHead(kind) : (getOne.get(kind, key)?.revision ?? 0);
          }
          if (now !== seen) throw new ConflictError(`${id.replace("\u0000", " ")} changed concurrently`);
        }
      }
      const { changes, texts } = effectiveWrites(
        writes,
        (kind, key) => getOne.get(kind, key)?.doc,
        this.#codec,
      );
      if (changes.length === 0) return undefined;
      const revision = nextRevision(last, meta, changes);
      this.#insRevision.run(...revisionValues(revision));
      const insVersion = this.#insVersion;
      const upsert = this.#upsertCurrent;
      const del = this.#delCurrent;
      for (let i = 0; i < changes.length; i++) {
        const w = changes[i] as PendingChange;
        const doc = texts[i] ?? null;
        insVersion.run(w.kind, w.key, revision.number, doc);
        if (doc === null) del.run(w.kind, w.key);
        else upsert.run(w.kind, w.key, revision.number, doc);
      }
      this.#appended++;
      return revision;
    });
    return txn.immediate();
  }
}
