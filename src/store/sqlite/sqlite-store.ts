/**
 * The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
 * acknowledged to a client survives a crash of the process or the machine.
 *
 * Mutations are serialised in-process and checked optimistically against the entity revisions
 * they read, so a second process writing the same file cannot make one of them lose an update.
 */
import Database from "better-sqlite3";
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { EntityKind, EntityTypes } from "../../model/types.js";
import { canonicalJson, collapseWrites, GENESIS_HASH, type PendingChange, revisionHash } from "../journal.js";
import type {
  Current,
  EntityVersion,
  MutationResult,
  MutationTx,
  Revision,
  RevisionMeta,
  Store,
} from "../store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS revisions (
  number     INTEGER PRIMARY KEY,
  time       TEXT NOT NULL,
  principal  TEXT NOT NULL,
  source_ip  TEXT NOT NULL,
  request_id TEXT NOT NULL,
  action     TEXT NOT NULL,
  ticket     TEXT,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
  kind     TEXT NOT NULL,
  key      TEXT NOT NULL,
  revision INTEGER NOT NULL REFERENCES revisions(number),
  doc      TEXT,
  PRIMARY KEY (kind, key, revision)
);
CREATE INDEX IF NOT EXISTS versions_by_revision ON versions(revision);
CREATE TABLE IF NOT EXISTS agent_status (
  agent_id TEXT PRIMARY KEY,
  status   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS current (
  kind     TEXT NOT NULL,
  key      TEXT NOT NULL,
  revision INTEGER NOT NULL,
  doc      TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);
`;

interface RevisionRow {
  number: number;
  time: string;
  principal: string;
  source_ip: string;
  request_id: string;
  action: string;
  ticket: string | null;
  prev_hash: string;
  hash: string;
}
interface VersionRow {
  kind: string;
  key: string;
  revision: number;
  doc: string | null;
}
interface CurrentRow {
  revision: number;
  doc: string;
}

const MAX_ATTEMPTS = 20;

export class ConflictError extends Error {}

export class SqliteStore implements Store {
  readonly driver = "sqlite";
  readonly #db: Database.Database;
  readonly #listeners = new Set<(r: Revision) => void>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
    this.#db.exec(SCHEMA);
  }

  mutate<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    const run = this.#queue.then(() => this.#mutateNow(meta, fn));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #mutateNow<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    for (let attempt = 1; ; attempt++) {
      const reads = new Map<string, number>();
      const writes: PendingChange[] = [];
      const tx = this.#tx(reads, writes);
      const result = await fn(tx);
      try {
        const revision = this.#commit(meta, reads, collapseWrites(writes));
        if (revision) for (const l of this.#listeners) l(revision);
        return { revision, result };
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt >= MAX_ATTEMPTS) throw e;
      }
    }
  }

  #tx(reads: Map<string, number>, writes: PendingChange[]): MutationTx {
    const pending = (kind: EntityKind, key: string): PendingChange | undefined => {
      for (let i = writes.length - 1; i >= 0; i--) {
        const w = writes[i];
        if (w && w.kind === kind && w.key === key) return w;
      }
      return undefined;
    };
    const getOne = this.#db.prepare<[string, string], CurrentRow>(
      "SELECT revision, doc FROM current WHERE kind = ? AND key = ?",
    );
    const listKind = this.#db.prepare<[string], CurrentRow & { key: string }>(
      "SELECT key, revision, doc FROM current WHERE kind = ? ORDER BY key",
    );
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
    };
  }

  #kindHead(kind: string): number {
    const row = this.#db
      .prepare<[string], { r: number | null }>("SELECT MAX(revision) AS r FROM versions WHERE kind = ?")
      .get(kind);
    return row?.r ?? 0;
  }

  #commit(meta: RevisionMeta, reads: Map<string, number>, writes: PendingChange[]): Revision | undefined {
    const db = this.#db;
    const getOne = db.prepare<[string, string], CurrentRow>(
      "SELECT revision, doc FROM current WHERE kind = ? AND key = ?",
    );
    const txn = db.transaction((): Revision | undefined => {
      for (const [id, seen] of reads) {
        const [kind, key] = id.split("\u0000") as [string, string];
        const now = key === "*" ? this.#kindHead(kind) : (getOne.get(kind, key)?.revision ?? 0);
        if (now !== seen) throw new ConflictError(`${kind} ${key} changed concurrently`);
      }
      const effective = writes.filter((w) => {
        const row = getOne.get(w.kind, w.key);
        if (w.doc === null) return row !== undefined;
        return !row || canonicalJson(JSON.parse(row.doc)) !== canonicalJson(w.doc);
      });
      if (effective.length === 0) return undefined;
      const last = db
        .prepare<[], { number: number; hash: string }>(
          "SELECT number, hash FROM revisions ORDER BY number DESC LIMIT 1",
        )
        .get();
      const number = (last?.number ?? 0) + 1;
      const prevHash = last?.hash ?? GENESIS_HASH;
      const time = new Date().toISOString();
      const hash = revisionHash(prevHash, number, time, meta, effective);
      db.prepare(
        `INSERT INTO revisions (number, time, principal, source_ip, request_id, action, ticket, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
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
      const insVersion = db.prepare("INSERT INTO versions (kind, key, revision, doc) VALUES (?, ?, ?, ?)");
      const upsert = db.prepare(
        `INSERT INTO current (kind, key, revision, doc) VALUES (?, ?, ?, ?)
         ON CONFLICT(kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc`,
      );
      const del = db.prepare("DELETE FROM current WHERE kind = ? AND key = ?");
      for (const w of effective) {
        const doc = w.doc === null ? null : JSON.stringify(w.doc);
        insVersion.run(w.kind, w.key, number, doc);
        if (doc === null) del.run(w.kind, w.key);
        else upsert.run(w.kind, w.key, number, doc);
      }
      return { ...meta, number, time, prevHash, hash };
    });
    return txn.immediate();
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    const row = this.#db
      .prepare<[string, string], CurrentRow>("SELECT revision, doc FROM current WHERE kind = ? AND key = ?")
      .get(kind, key);
    return row ? { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] } : undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    return this.#db
      .prepare<[string], CurrentRow>("SELECT revision, doc FROM current WHERE kind = ? ORDER BY key")
      .all(kind)
      .map((row) => ({ revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] }));
  }

  async head(): Promise<number> {
    const row = this.#db.prepare<[], { n: number | null }>("SELECT MAX(number) AS n FROM revisions").get();
    return row?.n ?? 0;
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
    const row = this.#db
      .prepare<[string, string, number], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE kind = ? AND key = ? AND revision <= ? ORDER BY revision DESC LIMIT 1",
      )
      .get(kind, key, revision);
    if (!row || row.doc === null) return undefined;
    return { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] };
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

function toRevision(row: RevisionRow): Revision {
  return {
    number: row.number,
    time: row.time,
    principal: row.principal,
    sourceIp: row.source_ip,
    requestId: row.request_id,
    action: row.action,
    ...(row.ticket === null ? {} : { ticket: row.ticket }),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toVersion(row: VersionRow): EntityVersion {
  return {
    kind: row.kind as EntityKind,
    key: row.key,
    revision: row.revision,
    doc: row.doc === null ? null : (JSON.parse(row.doc) as EntityTypes[EntityKind]),
  };
}
