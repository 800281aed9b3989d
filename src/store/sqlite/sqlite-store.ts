/**
 * The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
 * acknowledged to a client survives a crash of the process or the machine.
 *
 * Mutations are serialised in-process and checked optimistically against the entity revisions
 * they read, so a second process writing the same file cannot make one of them lose an update.
 */
import Database from "better-sqlite3";
import type { AgentStatus } from "../../model/agent-protocol.js";
import { BallastError } from "../../model/errors.js";
import type { EntityKind, EntityTypes } from "../../model/types.js";
import {
  canonicalJson,
  collapseWrites,
  compactedMessage,
  GENESIS_HASH,
  type PendingChange,
  revisionHash,
} from "../journal.js";
import {
  type CompactionRow,
  type RevisionRow,
  toCompaction,
  toRevision,
  toVersion,
  type VersionRow,
} from "../rows.js";
import type {
  CompactionRecord,
  Current,
  EntityDifference,
  EntityVersion,
  MutationResult,
  MutationTx,
  Revision,
  RevisionMeta,
  Store,
} from "../store.js";
import { compactThrough } from "./compaction.js";
import { type CurrentRow, DIFFERENCES_SQL, type DifferenceRow, SCHEMA } from "./schema.js";

const MAX_ATTEMPTS = 20;
/** The read-set entry for "the journal's head": set by bulk reads that depend on every entity. */
const HEAD_READ = "\u0000head";

export class ConflictError extends Error {}

export class SqliteStore implements Store {
  readonly driver = "sqlite";
  readonly #db: Database.Database;
  readonly #listeners = new Set<(r: Revision) => void>();
  #queue: Promise<unknown> = Promise.resolve();
  // Prepared once: preparing a statement costs about as much as running a small one.
  readonly #getOne: Database.Statement<[string, string], CurrentRow>;
  readonly #listKind: Database.Statement<[string], CurrentRow & { key: string }>;
  readonly #kindHeadStmt: Database.Statement<[string], { r: number | null }>;
  readonly #headStmt: Database.Statement<[], { n: number | null }>;
  readonly #lastRevision: Database.Statement<[], { number: number; hash: string }>;
  readonly #insRevision: Database.Statement<unknown[]>;
  readonly #insVersion: Database.Statement<unknown[]>;
  readonly #upsertCurrent: Database.Statement<unknown[]>;
  readonly #delCurrent: Database.Statement<unknown[]>;
  readonly #differences: Database.Statement<[{ at: number; kinds: string }], DifferenceRow>;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #compactedStmt: Database.Statement<[], number>;
  /**
   * `list()` results per kind, parsed once and deep-frozen (the model types are readonly, so no
   * caller may change them). Valid while this connection has committed nothing (`#commits`) and
   * no other connection has changed the file (`PRAGMA data_version`) — which also catches a
   * change made behind the journal's back with the sqlite3 shell.
   */
  readonly #listCache = new Map<
    string,
    { version: number; commits: number; rows: readonly Current<EntityKind>[] }
  >();
  #commits = 0;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#getOne = db.prepare("SELECT revision, doc FROM current WHERE kind = ? AND key = ?");
    this.#listKind = db.prepare("SELECT key, revision, doc FROM current WHERE kind = ? ORDER BY key");
    this.#kindHeadStmt = db.prepare("SELECT MAX(revision) AS r FROM versions WHERE kind = ?");
    this.#headStmt = db.prepare("SELECT MAX(number) AS n FROM revisions");
    this.#lastRevision = db.prepare("SELECT number, hash FROM revisions ORDER BY number DESC LIMIT 1");
    this.#insRevision = db.prepare(
      `INSERT INTO revisions (number, time, principal, source_ip, request_id, action, ticket, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insVersion = db.prepare("INSERT INTO versions (kind, key, revision, doc) VALUES (?, ?, ?, ?)");
    this.#upsertCurrent = db.prepare(
      `INSERT INTO current (kind, key, revision, doc) VALUES (?, ?, ?, ?)
       ON CONFLICT(kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc`,
    );
    this.#delCurrent = db.prepare("DELETE FROM current WHERE kind = ? AND key = ?");
    this.#differences = db.prepare(DIFFERENCES_SQL);
    this.#dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.#compactedStmt = db.prepare<[], number>("SELECT coalesce(max(through), 0) FROM compactions").pluck();
  }

  mutate<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    const run = this.#queue.then(() => this.#mutateNow(meta, fn));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #mutateNow<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    for (let attempt = 1; ; attempt++) {
      // Every commit appends a revision, so a head that has not moved since before the first read
      // proves every read is still current: the commit then skips checking them one by one.
      const startHead = this.#head();
      const reads = new Map<string, number>();
      const writes: PendingChange[] = [];
      const tx = this.#tx(reads, writes);
      const result = await fn(tx);
      try {
        const revision = this.#commit(meta, startHead, reads, collapseWrites(writes));
        if (revision) for (const l of this.#listeners) l(revision);
        return { revision, result };
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }

  #head(): number {
    return this.#headStmt.get()?.n ?? 0;
  }

  #tx(reads: Map<string, number>, writes: PendingChange[]): MutationTx {
    const pending = (kind: EntityKind, key: string): PendingChange | undefined => {
      for (let i = writes.length - 1; i >= 0; i--) {
        const w = writes[i];
        if (w && w.kind === kind && w.key === key) return w;
      }
      return undefined;
    };
    const getOne = this.#getOne;
    const listKind = this.#listKind;
    return {
      get: async <K extends EntityKind>(kind: K, key: string) => {
        const p = pending(kind, key);
        if (p) return (p.doc ?? undefined) as EntityTypes[K] | undefined;
        const row = getOne.get(kind, key);
        reads.set(`${kind}\u0000${key}`, row?.revision ?? 0);
        return row ? (JSON.parse(row.doc) as EntityTypes[K]) : undefined;
      },
      list: async <K extends EntityKind>(kind: K) => {
        const out = new Map<string, EntityTypes[K]>();
        for (const row of listKind.all(kind)) {
          reads.set(`${kind}\u0000${row.key}`, row.revision);
          out.set(row.key, JSON.parse(row.doc) as EntityTypes[K]);
        }
        reads.set(`${kind}\u0000*`, this.#kindHead(kind));
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
      differencesFrom: async (at, kinds) => {
        // One read transaction, so the head recorded is the one the differences were read at.
        const [head, rows] = this.#db.transaction(
          () => [this.#head(), this.#differences.all({ at, kinds: JSON.stringify(kinds) })] as const,
        )();
        reads.set(HEAD_READ, head);
        const out: EntityDifference[] = new Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i] as DifferenceRow;
          out[i] = {
            kind: r.kind as EntityKind,
            key: r.key,
            past: r.past_doc === null ? undefined : (JSON.parse(r.past_doc) as EntityTypes[EntityKind]),
            now: r.now_doc === null ? undefined : (JSON.parse(r.now_doc) as EntityTypes[EntityKind]),
          };
        }
        return out;
      },
    };
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
    const db = this.#db;
    const getOne = this.#getOne;
    const txn = db.transaction((): Revision | undefined => {
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
      const effective: PendingChange[] = [];
      const texts: (string | null)[] = [];
      for (const w of writes) {
        const row = getOne.get(w.kind, w.key);
        if (w.doc === null) {
          if (row === undefined) continue;
          effective.push(w);
          texts.push(null);
          continue;
        }
        const text = JSON.stringify(w.doc);
        // The stored text is what JSON.stringify made of an equal document, so equal text is the
        // common case and decides without parsing; otherwise compare canonical forms.
        if (row && (row.doc === text || canonicalJson(JSON.parse(row.doc)) === canonicalJson(w.doc)))
          continue;
        effective.push(w);
        texts.push(text);
      }
      if (effective.length === 0) return undefined;
      const number = (last?.number ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const time = new Date().toISOString();
      const hash = revisionHash(prevHash, number, time, meta, effective);
      this.#insRevision.run(
        number,
        time,
        meta.principal,
        meta.sourceIp,
        meta.requestId,
        meta.action,
        meta.ticket ?? null,
        prevHash,
        hash,
      );
      const insVersion = this.#insVersion;
      const upsert = this.#upsertCurrent;
      const del = this.#delCurrent;
      for (let i = 0; i < effective.length; i++) {
        const w = effective[i] as PendingChange;
        const doc = texts[i] ?? null;
        insVersion.run(w.kind, w.key, number, doc);
        if (doc === null) del.run(w.kind, w.key);
        else upsert.run(w.kind, w.key, number, doc);
      }
      this.#commits++;
      return { ...meta, number, time, prevHash, hash };
    });
    return txn.immediate();
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    const row = this.#getOne.get(kind, key);
    return row ? { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] } : undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    const version = this.#dataVersion.get() ?? 0;
    const cached = this.#listCache.get(kind);
    if (cached && cached.version === version && cached.commits === this.#commits) {
      return cached.rows as readonly Current<K>[];
    }
    const commits = this.#commits;
    const rows = this.#listKind.all(kind);
    const out: Current<K>[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as CurrentRow;
      out[i] = Object.freeze({
        revision: row.revision,
        doc: deepFreeze(JSON.parse(row.doc)) as EntityTypes[K],
      });
    }
    Object.freeze(out);
    this.#listCache.set(kind, { version, commits, rows: out });
    return out;
  }

  async head(): Promise<number> {
    return this.#head();
  }

  async revision(number: number): Promise<Revision | undefined> {
    const row = this.#db
      .prepare<[number], RevisionRow>("SELECT * FROM revisions WHERE number = ?")
      .get(number);
    return row ? toRevision(row) : undefined;
  }

  async revisions(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly Revision[]> {
    return this.#db
      .prepare<[number, number], RevisionRow>(
        "SELECT * FROM revisions WHERE number > ? AND number <= ? ORDER BY number",
      )
      .all(from, to)
      .map(toRevision);
  }

  async changes(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly EntityVersion[]> {
    return this.#db
      .prepare<[number, number], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE revision > ? AND revision <= ? ORDER BY revision, kind, key",
      )
      .all(from, to)
      .map(toVersion);
  }

  async history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    return this.#db
      .prepare<[string, string], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE kind = ? AND key = ? ORDER BY revision",
      )
      .all(kind, key)
      .map(toVersion);
  }

  async getAt<K extends EntityKind>(kind: K, key: string, revision: number): Promise<Current<K> | undefined> {
    const compacted = this.#compactedStmt.get() ?? 0;
    if (revision < compacted)
      throw new BallastError("ValidationError", compactedMessage(revision, compacted));
    const row = this.#db
      .prepare<[string, string, number], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE kind = ? AND key = ? AND revision <= ? ORDER BY revision DESC LIMIT 1",
      )
      .get(kind, key, revision);
    if (!row || row.doc === null) return undefined;
    return { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] };
  }

  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    // In the mutation queue, so no mutation of this process is between its reads and its commit.
    const run = this.#queue.then(() => this.#compactNow(through, meta));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #compactNow(through: number, meta: RevisionMeta): CompactionRecord | undefined {
    return this.#db.transaction(() => compactThrough(this.#db, through, meta)).immediate();
  }

  async compactions(): Promise<readonly CompactionRecord[]> {
    return this.#db
      .prepare<[], CompactionRow>("SELECT * FROM compactions ORDER BY through")
      .all()
      .map(toCompaction);
  }

  async compactedThrough(): Promise<number> {
    return this.#compactedStmt.get() ?? 0;
  }

  async putAgentStatus(status: AgentStatus): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO agent_status (agent_id, status) VALUES (?, ?)
         ON CONFLICT(agent_id) DO UPDATE SET status = excluded.status`,
      )
      .run(status.agentId, JSON.stringify(status));
  }

  async agentStatuses(): Promise<readonly AgentStatus[]> {
    return this.#db
      .prepare<[], { status: string }>("SELECT status FROM agent_status ORDER BY agent_id")
      .all()
      .map((r) => JSON.parse(r.status) as AgentStatus);
  }

  onCommit(listener: (revision: Revision) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#queue;
    this.#db.close();
  }
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
