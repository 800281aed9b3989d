/**
 * The store for several control-plane replicas: the journal in PostgreSQL.
 *
 * Every mutation attempt is one transaction that first locks the journal's single lock row, so
 * writers in every process take turns: the callback reads committed state nobody else can change
 * until it commits, revision numbers follow commit order with no gap, and no update is lost.
 * Commits are acknowledged only once flushed (`synchronous_commit` is never left `off`).
 */
import pg from "pg";
import type { AgentStatus } from "../../model/agent-protocol.js";
import { BallastError } from "../../model/errors.js";
import type { EntityKind, EntityTypes } from "../../model/types.js";
import { createLogger, type Logger } from "../../util/logger.js";
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
import { ensureSchema, quoteIdent } from "./schema.js";

export interface PostgresStoreOptions {
  /** The PostgreSQL schema holding the journal; created if absent. Default "public". */
  readonly schema?: string;
  /** Upper bound on pooled connections. Default 10. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
}

interface DifferenceRow {
  kind: string;
  key: string;
  past_doc: string | null;
  now_doc: string | null;
}
interface CurrentRow {
  key: string;
  revision: number;
  doc: string;
}

const MAX_ATTEMPTS = 20;
/** serialization_failure, deadlock_detected, lock_not_available: the attempt can simply run again. */
const RETRYABLE = new Set(["40001", "40P01", "55P03"]);
const INT8_OID = 20;

/** Revision numbers are bigint; they stay far below 2^53, so read them as numbers. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

export class PostgresStore implements Store {
  readonly driver = "postgres";
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #listeners = new Set<(r: Revision) => void>();
  /** Mutations of this process queue here, so a burst holds one connection, not the whole pool. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#s = quoteIdent(schema);
  }

  static async open(connectionString: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = opts.schema ?? "public";
    const log = opts.logger ?? createLogger({ component: "store", driver: "postgres" });
    const pool = new pg.Pool({ connectionString, max: opts.maxConnections ?? 10, types });
    // An idle pooled connection that breaks (server restart, failover) must not crash the process;
    // the pool drops it and the next query opens a new one.
    pool.on("error", (err) => log.warn("idle PostgreSQL connection failed", { err }));
    try {
      const client = await pool.connect();
      try {
        await ensureSchema(client, schema);
      } finally {
        client.release();
      }
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PostgresStore(pool, schema);
  }

  mutate<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    const run = this.#queue.then(() => this.#mutateNow(meta, fn));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #mutateNow<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    for (let attempt = 1; ; attempt++) {
      let outcome: MutationResult<T>;
      try {
        outcome = await this.#attempt(meta, fn);
      } catch (e) {
        if (attempt < MAX_ATTEMPTS && isRetryable(e)) continue;
        throw e;
      }
      if (outcome.revision) for (const l of this.#listeners) l(outcome.revision);
      return outcome;
    }
  }

  async #attempt<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      // One round trip: begin, never acknowledge before the commit is flushed, let the server end a
      // session that hangs while holding the lock, then take the lock.
      await client.query(
        `BEGIN ISOLATION LEVEL READ COMMITTED;
         SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off';
         SELECT set_config('idle_in_transaction_session_timeout', '60s', true);
         SELECT 1 FROM ${this.#s}.journal_lock WHERE id = 1 FOR UPDATE`,
      );
      const writes: PendingChange[] = [];
      const result = await fn(this.#tx(client, writes));
      const revision = await this.#append(client, meta, collapseWrites(writes));
      await client.query("COMMIT");
      return { revision, result };
    } catch (e) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  #tx(client: pg.PoolClient, writes: PendingChange[]): MutationTx {
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
        const row = await this.#getRow(client, kind, key);
        return row ? (JSON.parse(row.doc) as EntityTypes[K]) : undefined;
      },
      list: async <K extends EntityKind>(kind: K) => {
        const out = new Map<string, EntityTypes[K]>();
        for (const row of await this.#listRows(client, kind)) {
          out.set(row.key, JSON.parse(row.doc) as EntityTypes[K]);
        }
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
      // On the mutation's own connection, under the journal lock: nobody commits until it ends.
      differencesFrom: async (at, kinds) => {
        const res = await client.query<DifferenceRow>(
          `WITH t AS (
             SELECT DISTINCT ON (kind, key) kind, key, doc FROM ${this.#s}.versions
             WHERE revision <= $1 AND kind = ANY($2::text[])
             ORDER BY kind, key, revision DESC
           ),
           c AS (SELECT kind, key, doc FROM ${this.#s}.current WHERE kind = ANY($2::text[]))
           SELECT coalesce(t.kind, c.kind) AS kind, coalesce(t.key, c.key) AS key,
                  t.doc AS past_doc, c.doc AS now_doc
           FROM t FULL JOIN c ON c.kind = t.kind AND c.key = t.key
           WHERE t.doc IS DISTINCT FROM c.doc`,
          [at, kinds],
        );
        const rows = res.rows;
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

  /** Appends the writes that change something as the next revision; the caller holds the lock. */
  async #append(
    client: pg.PoolClient,
    meta: RevisionMeta,
    writes: readonly PendingChange[],
  ): Promise<Revision | undefined> {
    if (writes.length === 0) return undefined;
    const s = this.#s;
    const before = await client.query<{ kind: string; key: string; doc: string }>(
      `SELECT c.kind, c.key, c.doc FROM ${s}.current c
       JOIN unnest($1::text[], $2::text[]) AS w(kind, key) ON c.kind = w.kind AND c.key = w.key`,
      [writes.map((w) => w.kind), writes.map((w) => w.key)],
    );
    const stored = new Map<string, string>();
    for (const r of before.rows) stored.set(`${r.kind}\u0000${r.key}`, r.doc);
    // The hash covers the documents as given, never as re-read from the database.
    const effective: PendingChange[] = [];
    const texts: (string | null)[] = [];
    for (const w of writes) {
      const doc = stored.get(`${w.kind}\u0000${w.key}`);
      if (w.doc === null) {
        if (doc === undefined) continue;
        effective.push(w);
        texts.push(null);
        continue;
      }
      const text = JSON.stringify(w.doc);
      // Stored text is what JSON.stringify made of an equal document, so equal text decides the
      // common case without parsing; otherwise compare canonical forms.
      if (doc !== undefined && (doc === text || canonicalJson(JSON.parse(doc)) === canonicalJson(w.doc)))
        continue;
      effective.push(w);
      texts.push(text);
    }
    if (effective.length === 0) return undefined;

    const last = await client.query<{ number: number; hash: string }>(
      `SELECT number, hash FROM ${s}.revisions ORDER BY number DESC LIMIT 1`,
    );
    const number = (last.rows[0]?.number ?? 0) + 1;
    const prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
    const time = new Date().toISOString();
    const hash = revisionHash(prevHash, number, time, meta, effective);
    await client.query(
      `INSERT INTO ${s}.revisions (number, time, principal, source_ip, request_id, action, ticket, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        number,
        time,
        meta.principal,
        meta.sourceIp,
        meta.requestId,
        meta.action,
        meta.ticket ?? null,
        prevHash,
        hash,
      ],
    );
    await client.query(
      `WITH w AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS w(kind, key, doc)),
       v AS (INSERT INTO ${s}.versions (kind, key, revision, doc) SELECT kind, key, $1, doc FROM w),
       u AS (INSERT INTO ${s}.current (kind, key, revision, doc)
             SELECT kind, key, $1, doc FROM w WHERE doc IS NOT NULL
             ON CONFLICT (kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc)
       DELETE FROM ${s}.current c USING w WHERE w.doc IS NULL AND c.kind = w.kind AND c.key = w.key`,
      [number, effective.map((w) => w.kind), effective.map((w) => w.key), texts],
    );
    return { ...meta, number, time, prevHash, hash };
  }

  async #getRow(db: pg.Pool | pg.PoolClient, kind: string, key: string): Promise<CurrentRow | undefined> {
    const res = await db.query<CurrentRow>(
      `SELECT key, revision, doc FROM ${this.#s}.current WHERE kind = $1 AND key = $2`,
      [kind, key],
    );
    return res.rows[0];
  }

  async #listRows(db: pg.Pool | pg.PoolClient, kind: string): Promise<CurrentRow[]> {
    const res = await db.query<CurrentRow>(
      `SELECT key, revision, doc FROM ${this.#s}.current WHERE kind = $1 ORDER BY key`,
      [kind],
    );
    return res.rows;
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    const row = await this.#getRow(this.#pool, kind, key);
    return row ? { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] } : undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    return (await this.#listRows(this.#pool, kind)).map((row) => ({
      revision: row.revision,
      doc: JSON.parse(row.doc) as EntityTypes[K],
    }));
  }

  async head(): Promise<number> {
    const res = await this.#pool.query<{ n: number | null }>(
      `SELECT MAX(number) AS n FROM ${this.#s}.revisions`,
    );
    return res.rows[0]?.n ?? 0;
  }

  async revision(number: number): Promise<Revision | undefined> {
    const res = await this.#pool.query<RevisionRow>(`SELECT * FROM ${this.#s}.revisions WHERE number = $1`, [
      number,
    ]);
    const row = res.rows[0];
    return row ? toRevision(row) : undefined;
  }

  async revisions(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly Revision[]> {
    const res = await this.#pool.query<RevisionRow>(
      `SELECT * FROM ${this.#s}.revisions WHERE number > $1 AND number <= $2 ORDER BY number`,
      [from, to],
    );
    return res.rows.map(toRevision);
  }

  async changes(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly EntityVersion[]> {
    const res = await this.#pool.query<VersionRow>(
      `SELECT kind, key, revision, doc FROM ${this.#s}.versions
       WHERE revision > $1 AND revision <= $2 ORDER BY revision, kind, key`,
      [from, to],
    );
    return res.rows.map(toVersion);
  }

  async history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    const res = await this.#pool.query<VersionRow>(
      `SELECT kind, key, revision, doc FROM ${this.#s}.versions WHERE kind = $1 AND key = $2 ORDER BY revision`,
      [kind, key],
    );
    return res.rows.map(toVersion);
  }

  async getAt<K extends EntityKind>(kind: K, key: string, revision: number): Promise<Current<K> | undefined> {
    // One round trip, one snapshot: the version and the compaction bound are read together.
    const res = await this.#pool.query<{
      kind: string | null;
      key: string;
      revision: number;
      doc: string | null;
      compacted: number;
    }>(
      `SELECT v.kind, v.key, v.revision, v.doc, c.compacted
       FROM (SELECT coalesce(max(through), 0) AS compacted FROM ${this.#s}.compactions) c
       LEFT JOIN LATERAL (
         SELECT kind, key, revision, doc FROM ${this.#s}.versions
         WHERE kind = $1 AND key = $2 AND revision <= $3 ORDER BY revision DESC LIMIT 1
       ) v ON true`,
      [kind, key, revision],
    );
    const compacted = res.rows[0]?.compacted ?? 0;
    if (revision < compacted)
      throw new BallastError("ValidationError", compactedMessage(revision, compacted));
    const row = res.rows[0]?.kind == null ? undefined : res.rows[0];
    if (!row || row.doc === null) return undefined;
    return { revision: row.revision, doc: JSON.parse(row.doc) as EntityTypes[K] };
  }

  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    const run = this.#queue.then(() => this.#compactNow(through, meta));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** One transaction under the journal lock, like a mutation: no writer commits meanwhile. */
  async #compactNow(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    const s = this.#s;
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(
        `BEGIN ISOLATION LEVEL READ COMMITTED;
         SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off';
         SELECT 1 FROM ${s}.journal_lock WHERE id = 1 FOR UPDATE`,
      );
      const record = await compactThrough(client, s, through, meta);
      await client.query(record ? "COMMIT" : "ROLLBACK");
      return record;
    } catch (e) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async compactions(): Promise<readonly CompactionRecord[]> {
    const res = await this.#pool.query<CompactionRow>(
      `SELECT * FROM ${this.#s}.compactions ORDER BY through`,
    );
    return res.rows.map(toCompaction);
  }

  async compactedThrough(): Promise<number> {
    const res = await this.#pool.query<{ c: number }>(
      `SELECT coalesce(max(through), 0) AS c FROM ${this.#s}.compactions`,
    );
    return res.rows[0]?.c ?? 0;
  }

  async putAgentStatus(status: AgentStatus): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.agent_status (agent_id, status) VALUES ($1, $2)
       ON CONFLICT (agent_id) DO UPDATE SET status = excluded.status`,
      [status.agentId, JSON.stringify(status)],
    );
  }

  async agentStatuses(): Promise<readonly AgentStatus[]> {
    const res = await this.#pool.query<{ status: string }>(
      `SELECT status FROM ${this.#s}.agent_status ORDER BY agent_id`,
    );
    return res.rows.map((r) => JSON.parse(r.status) as AgentStatus);
  }

  onCommit(listener: (revision: Revision) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#pool.end();
  }
}

function isRetryable(e: unknown): boolean {
  return e instanceof Error && "code" in e && typeof e.code === "string" && RETRYABLE.has(e.code);
}
