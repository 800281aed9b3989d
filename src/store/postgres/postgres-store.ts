/**
 * The store for several control-plane replicas: the journal in PostgreSQL.
 *
 * Every mutation attempt (mutate.ts) is one transaction that first locks the journal's single
 * lock row (transaction.ts), so writers in every process take turns: the callback reads committed
 * state nobody else can change until it commits, revision numbers follow commit order with no
 * gap, and no update is lost. Commits are acknowledged only once flushed (`synchronous_commit` is
 * never left `off`). Mutations that arrive while one transaction runs wait and then share the next
 * one (group commit, mutate.ts), each with its own revision; every commit notifies the journal's
 * channel, so replicas (replica-store.ts) hear of it.
 */
import type pg from "pg";
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { GuardDecision } from "../../model/guard.js";
import type { TicketEvent } from "../../model/ticket.js";
import type { EntityKind } from "../../model/types.js";
import { createLogger, type Logger } from "../../util/logger.js";
import { assertKept } from "../journal.js";
import { SerialQueue } from "../journal-tx.js";
import { type CompactionRow, toCompaction, toCurrent, toCurrentAt } from "../rows.js";
import { type DocCodec, defaultCodec } from "../secrets/codec.js";
import type {
  AuditFilter,
  AuditRecord,
  CompactionRecord,
  Current,
  CurrentSnapshot,
  EntityVersion,
  EpochResult,
  EpochStart,
  JournalRows,
  MutateOptions,
  MutationResult,
  MutationTx,
  Revision,
  RevisionMeta,
  Store,
  StoredAuditRecord,
} from "../store.js";
import type { CommittedCache } from "./batch-view.js";
import { compactThrough } from "./compaction.js";
import { type CurrentEntry, readCurrentEntries, readCurrentSnapshot } from "./current-state.js";
import { startEpoch } from "./epoch.js";
import { countJournalRows, readChanges, readHistory, readRevision, readRevisions } from "./journal-reads.js";
import { commitBatch, currentRow, currentRows, type MutationJob, notifyCommit } from "./mutate.js";
import { openPool } from "./pool.js";
import { PostgresRecords } from "./records.js";
import { ensureSchema, quoteIdent } from "./schema.js";
import { underJournalLock } from "./transaction.js";

export interface PostgresStoreOptions {
  /** The PostgreSQL schema holding the journal; created if absent. Default "public". */
  readonly schema?: string;
  /** Most mutations one transaction carries (group commit). Default 64. */
  readonly maxBatch?: number;
  /** Upper bound on pooled connections. Default 10. */
  readonly maxConnections?: number;
  readonly logger?: Logger;
  /**
   * Seals secret fields at rest. Default: `BALLAST_SECRET_KEY`, else a key for this process's life
   * (tests); the control plane passes its data directory's key (open.ts).
   */
  readonly codec?: DocCodec;
}

/** How many mutation transactions committed, and how many revisions they carried. */
export interface CommitStats {
  readonly transactions: number;
  readonly revisions: number;
  /** Transactions whose mutations read the replica's memory instead of the database. */
  readonly fromMemory: number;
}

export class PostgresStore implements Store {
  readonly driver = "postgres";
  readonly codec: DocCodec;
  /** The schema holding the journal, as named. */
  readonly schema: string;
  /** The database this store writes (for a replica's own LISTEN and lock connections). */
  readonly connectionString: string;
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #records: PostgresRecords;
  readonly #listeners = new Set<(r: Revision) => void>();
  /** Mutations of this process queue here, so a burst holds one connection, not the whole pool. */
  readonly #queue = new SerialQueue();
  /** Mutations waiting for the next transaction. */
  readonly #pending: MutationJob[] = [];
  readonly #maxBatch: number;
  #drainQueued = false;
  #cache: CommittedCache | undefined;
  #transactions = 0;
  #revisions = 0;
  #fromMemory = 0;

  private constructor(
    pool: pg.Pool,
    connectionString: string,
    schema: string,
    codec: DocCodec,
    maxBatch: number,
  ) {
    this.#pool = pool;
    this.connectionString = connectionString;
    this.codec = codec;
    this.schema = schema;
    this.#s = quoteIdent(schema);
    this.#records = new PostgresRecords(pool, this.#s);
    this.#maxBatch = maxBatch;
  }

  /**
   * Lets group commit read a replica's state in memory instead of the database whenever it is at
   * the journal's head (batch-view.ts); the replica store sets itself here.
   */
  useCache(cache: CommittedCache): void {
    this.#cache = cache;
  }

  /** Mutation transactions committed by this store object, and the revisions they carried. */
  get commitStats(): CommitStats {
    return { transactions: this.#transactions, revisions: this.#revisions, fromMemory: this.#fromMemory };
  }

  static async open(connectionString: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = opts.schema ?? "public";
    const log = opts.logger ?? createLogger({ component: "store", driver: "postgres" });
    const pool = openPool(connectionString, opts.maxConnections ?? 10, log);
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
    const maxBatch = opts.maxBatch ?? 64;
    return new PostgresStore(pool, connectionString, schema, opts.codec ?? defaultCodec(), maxBatch);
  }

  mutate<T>(
    meta: RevisionMeta,
    fn: (tx: MutationTx) => Promise<T>,
    opts?: MutateOptions,
  ): Promise<MutationResult<T>> {
    return new Promise<MutationResult<T>>((resolve, reject) => {
      this.#pending.push({
        meta,
        fn,
        readStored: opts?.readStored === true,
        resolve: resolve as (outcome: MutationResult<unknown>) => void,
        reject,
      });
      this.#queueDrain();
    });
  }

  /** One turn of the queue takes every mutation waiting then (up to maxBatch) into one transaction. */
  #queueDrain(): void {
    if (this.#drainQueued) return;
    this.#drainQueued = true;
    this.#queue.run(async () => {
      this.#drainQueued = false;
      const batch = this.#pending.splice(0, this.#maxBatch);
      if (this.#pending.length > 0) this.#queueDrain();
      await commitBatch(
        {
          pool: this.#pool,
          s: this.#s,
          schema: this.schema,
          codec: this.codec,
          notify: (revision) => {
            for (const l of this.#listeners) l(revision);
          },
          cache: this.#cache,
          committed: (revisions, fromMemory) => {
            this.#transactions++;
            if (fromMemory) this.#fromMemory++;
            this.#revisions += revisions;
          },
        },
        batch,
      );
    });
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    const row = await currentRow(this.#pool, this.#s, kind, key);
    return row ? toCurrent<K>(row, kind, this.codec) : undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    return (await currentRows(this.#pool, this.#s, kind)).map((row) => toCurrent<K>(row, kind, this.codec));
  }

  async count(kind: EntityKind): Promise<number> {
    const res = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.#s}.current WHERE kind = $1`,
      [kind],
    );
    return res.rows[0]?.n ?? 0;
  }

  /** The whole current state, every kind, with each entity's stored key: one query (replica-store.ts). */
  currentEntries(): Promise<CurrentEntry[]> {
    return readCurrentEntries(this.#pool, this.#s, this.codec);
  }

  /** The current rows and the head in one REPEATABLE READ snapshot (verification). */
  currentSnapshot(): Promise<CurrentSnapshot> {
    return readCurrentSnapshot(this.#pool, this.#s, this.codec);
  }

  async head(): Promise<number> {
    const res = await this.#pool.query<{ n: number | null }>(
      `SELECT MAX(number) AS n FROM ${this.#s}.revisions`,
    );
    return res.rows[0]?.n ?? 0;
  }

  revision(number: number): Promise<Revision | undefined> {
    return readRevision(this.#pool, this.#s, number);
  }
  revisions(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly Revision[]> {
    return readRevisions(this.#pool, this.#s, from, to);
  }
  changes(from: number, to = Number.MAX_SAFE_INTEGER): Promise<readonly EntityVersion[]> {
    return readChanges(this.#pool, this.#s, this.codec, from, to);
  }
  history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    return readHistory(this.#pool, this.#s, this.codec, kind, key);
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
    assertKept(revision, res.rows[0]?.compacted ?? 0);
    return toCurrentAt<K>(res.rows[0]?.kind == null ? undefined : res.rows[0], kind, this.codec);
  }

  /** One transaction under the journal lock, like a mutation: no writer commits meanwhile. */
  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    return this.#queue.run(() =>
      underJournalLock(
        this.#pool,
        this.#s,
        async (client) => {
          const record = await compactThrough(client, this.#s, through, meta, this.codec);
          if (record !== undefined) await notifyCommit(client, this.schema, "compacted");
          return record;
        },
        {
          commit: (record) => record !== undefined,
        },
      ),
    );
  }

  async compactions(): Promise<readonly CompactionRecord[]> {
    const res = await this.#pool.query<CompactionRow>(
      `SELECT * FROM ${this.#s}.compactions ORDER BY through`,
    );
    return res.rows.map(toCompaction);
  }

  journalRows(through: number): Promise<JournalRows> {
    return countJournalRows(this.#pool, this.#s, through);
  }

  async compactedThrough(): Promise<number> {
    const res = await this.#pool.query<{ c: number }>(
      `SELECT coalesce(max(through), 0) AS c FROM ${this.#s}.compactions`,
    );
    return res.rows[0]?.c ?? 0;
  }

  putAgentStatus(status: AgentStatus): Promise<void> {
    return this.#records.putAgentStatus(status);
  }

  agentStatuses(): Promise<readonly AgentStatus[]> {
    return this.#records.agentStatuses();
  }

  appendAudit(records: readonly AuditRecord[]): Promise<void> {
    return this.#records.appendAudit(records);
  }

  audit(filter: AuditFilter = {}): Promise<readonly StoredAuditRecord[]> {
    return this.#records.audit(filter);
  }

  appendTicketEvent(event: TicketEvent): Promise<void> {
    return this.#records.appendTicketEvent(event);
  }

  ticketEvents(ticket?: string): Promise<readonly TicketEvent[]> {
    return this.#records.ticketEvents(ticket);
  }

  appendGuardDecision(decision: GuardDecision): Promise<void> {
    return this.#records.appendGuardDecision(decision);
  }

  guardDecisions(): Promise<readonly GuardDecision[]> {
    return this.#records.guardDecisions();
  }

  /**
   * Runs one SQL statement on one of this store's own pooled connections and returns how many rows
   * it changed. For the conformance suite and operator tooling, never the API: the statement meets
   * the database's guards like any other (the journal's triggers refuse UPDATE and DELETE).
   * Names the journal's tables unqualified: the store's schema is put first on the search path.
   */
  async rawSql(sql: string, params: readonly unknown[] = []): Promise<number> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`SET LOCAL search_path TO ${this.#s}`);
      const res = await client.query(sql, [...params]);
      await client.query("COMMIT");
      return res.rowCount ?? 0;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** A new journal epoch (postgres/epoch.ts): one transaction under the journal lock. */
  async startEpoch(start: EpochStart): Promise<EpochResult> {
    const result = await this.#queue.run(() =>
      underJournalLock(this.#pool, this.#s, async (client) => {
        const result = await startEpoch(client, this.#s, start, this.codec);
        await notifyCommit(client, this.schema, "epoch");
        return result;
      }),
    );
    for (const l of this.#listeners) l(result.revision);
    return result;
  }

  onCommit(listener: (revision: Revision) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * While mutations of this process are queued or committing: settles once those queued so far
   * have (never rejects). A replica's batch reads what other replicas committed before it under
   * the journal lock, so a replica following the journal waits for it rather than read it twice.
   */
  writing(): Promise<unknown> | undefined {
    return this.#queue.busy ? this.#queue.idle() : undefined;
  }

  async close(): Promise<void> {
    await this.#queue.idle();
    await this.#pool.end();
  }
}
