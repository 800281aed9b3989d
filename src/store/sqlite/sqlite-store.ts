/**
 * The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
 * acknowledged to a client survives a crash of the process or the machine.
 *
 * Mutations are serialised in-process and checked optimistically against the entity revisions
 * they read (mutate.ts), so a second process writing the same file cannot make one of them lose
 * an update.
 */
import { chmodSync, closeSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { GuardDecision } from "../../model/guard.js";
import type { TicketEvent } from "../../model/ticket.js";
import type { EntityKind, EntityTypes } from "../../model/types.js";
import { SecretKey } from "../../util/secret-key.js";
import { AUDIT_COLUMNS, type AuditRow, auditQuery, auditValues, toAuditRecord } from "../audit.js";
import {
  GUARD_DECISION_COLUMNS,
  type GuardDecisionRow,
  guardDecisionsQuery,
  guardDecisionValues,
  TICKET_EVENT_COLUMNS,
  type TicketEventRow,
  ticketEventsQuery,
  ticketEventValues,
  toGuardDecision,
  toTicketEvent,
} from "../decisions.js";
import { assertKept } from "../journal.js";
import { SerialQueue } from "../journal-tx.js";
import {
  type CompactionRow,
  type CurrentRow,
  type RevisionRow,
  toCompaction,
  toCurrent,
  toCurrentAt,
  toRevision,
  toVersion,
  type VersionRow,
} from "../rows.js";
import { DocCodec } from "../secrets/codec.js";
import type {
  AuditFilter,
  AuditRecord,
  CompactionRecord,
  Current,
  EntityVersion,
  EpochResult,
  EpochStart,
  JournalRows,
  MutationResult,
  MutationTx,
  Revision,
  RevisionMeta,
  Store,
  StoredAuditRecord,
} from "../store.js";
import { compactThrough } from "./compaction.js";
import { startEpoch } from "./epoch.js";
import { SqliteWriter } from "./mutate.js";
import { ADDED_COLUMNS, SCHEMA } from "./schema.js";

export { ConflictError } from "./mutate.js";

export interface SqliteStoreOptions {
  /** Seals secret fields; default: the key of the database's folder (`BALLAST_SECRET_KEY` or `secret.key`). */
  readonly codec?: DocCodec;
}

export class SqliteStore implements Store {
  readonly driver = "sqlite";
  readonly codec: DocCodec;
  readonly #db: Database.Database;
  readonly #listeners = new Set<(r: Revision) => void>();
  readonly #queue = new SerialQueue();
  readonly #writer: SqliteWriter;
  // Prepared once: preparing a statement costs about as much as running a small one.
  readonly #getOne: Database.Statement<[string, string], CurrentRow>;
  readonly #listKind: Database.Statement<[string], CurrentRow & { key: string }>;
  readonly #headStmt: Database.Statement<[], { n: number | null }>;
  readonly #dataVersion: Database.Statement<[], number>;
  readonly #countKind: Database.Statement<[string], number>;
  readonly #compactedStmt: Database.Statement<[], number>;
  #auditInsert: Database.Statement<(string | number | null)[]> | undefined;
  /**
   * `list()` results per kind, parsed once and deep-frozen (the model types are readonly, so no
   * caller may change them). Valid while this connection has appended nothing (`appended`) and
   * no other connection has changed the file (`PRAGMA data_version`) — which also catches a
   * change made behind the journal's back with the sqlite3 shell.
   */
  readonly #listCache = new Map<
    string,
    { version: number; appended: number; rows: readonly Current<EntityKind>[] }
  >();
  /**
   * `agentStatuses()` parsed once and deep-frozen, valid like `#listCache`: while this connection
   * wrote no status (`statusWrites`) and no other connection changed the file. An agent of 10,000
   * load balancers reports a status of megabytes; DNS, metrics and DescribeInstanceHealth read it.
   */
  #statusCache: { version: number; writes: number; statuses: readonly AgentStatus[] } | undefined;
  #statusWrites = 0;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.codec = opts.codec ?? new DocCodec(SecretKey.load(dirname(path)));
    privateFile(path);
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
    this.#db.exec(SCHEMA);
    const db = this.#db;
    for (const [table, column, type] of ADDED_COLUMNS) {
      const has = db.prepare<[], { name: string }>(`PRAGMA table_info(${table})`).all();
      if (!has.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
    this.#getOne = db.prepare("SELECT revision, doc FROM current WHERE kind = ? AND key = ?");
    this.#listKind = db.prepare("SELECT key, revision, doc FROM current WHERE kind = ? ORDER BY key");
    this.#headStmt = db.prepare("SELECT MAX(number) AS n FROM revisions");
    this.#dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
    this.#countKind = db.prepare<[string], number>("SELECT count(*) FROM current WHERE kind = ?").pluck();
    this.#compactedStmt = db.prepare<[], number>("SELECT coalesce(max(through), 0) FROM compactions").pluck();
    this.#writer = new SqliteWriter(db, this.codec, {
      getOne: this.#getOne,
      listKind: this.#listKind,
      head: () => this.#head(),
    });
  }

  mutate<T>(meta: RevisionMeta, fn: (tx: MutationTx) => Promise<T>): Promise<MutationResult<T>> {
    return this.#queue.run(() =>
      this.#writer.mutate(meta, fn, (revision) => {
        for (const l of this.#listeners) l(revision);
      }),
    );
  }

  #head(): number {
    return this.#headStmt.get()?.n ?? 0;
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    const row = this.#getOne.get(kind, key);
    return row ? toCurrent<K>({ ...row, key }, kind, this.codec) : undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    const version = this.#dataVersion.get() ?? 0;
    const cached = this.#listCache.get(kind);
    if (cached && cached.version === version && cached.appended === this.#writer.appended) {
      return cached.rows as readonly Current<K>[];
    }
    const appended = this.#writer.appended;
    const rows = this.#listKind.all(kind);
    const out: Current<K>[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as CurrentRow & { key: string };
      out[i] = Object.freeze({
        revision: row.revision,
        doc: deepFreeze(this.codec.decode(kind, row.key, row.doc)) as EntityTypes[K],
      });
    }
    Object.freeze(out);
    this.#listCache.set(kind, { version, appended, rows: out });
    return out;
  }

  async count(kind: EntityKind): Promise<number> {
    return this.#countKind.get(kind) ?? 0;
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
      .map((r) => toVersion(r, this.codec));
  }

  async history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    return this.#db
      .prepare<[string, string], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE kind = ? AND key = ? ORDER BY revision",
      )
      .all(kind, key)
      .map((r) => toVersion(r, this.codec));
  }

  async getAt<K extends EntityKind>(kind: K, key: string, revision: number): Promise<Current<K> | undefined> {
    assertKept(revision, this.#compactedStmt.get() ?? 0);
    const row = this.#db
      .prepare<[string, string, number], VersionRow>(
        "SELECT kind, key, revision, doc FROM versions WHERE kind = ? AND key = ? AND revision <= ? ORDER BY revision DESC LIMIT 1",
      )
      .get(kind, key, revision);
    return toCurrentAt<K>(row, kind, this.codec);
  }

  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    // In the mutation queue, so no mutation of this process is between its reads and its commit.
    return this.#queue.run(() =>
      this.#db.transaction(() => compactThrough(this.#db, through, meta, this.codec)).immediate(),
    );
  }

  async compactions(): Promise<readonly CompactionRecord[]> {
    return this.#db
      .prepare<[], CompactionRow>("SELECT * FROM compactions ORDER BY through")
      .all()
      .map(toCompaction);
  }

  async journalRows(through: number): Promise<JournalRows> {
    const row = this.#db
      .prepare<[number, number], { revisions: number; versions: number }>(
        `SELECT (SELECT count(*) FROM revisions WHERE number <= ?) AS revisions,
                (SELECT count(*) FROM versions WHERE revision <= ?) AS versions`,
      )
      .get(through, through);
    return { revisions: row?.revisions ?? 0, versions: row?.versions ?? 0 };
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
    this.#statusWrites++;
  }

  async agentStatuses(): Promise<readonly AgentStatus[]> {
    const version = this.#dataVersion.get() ?? 0;
    const cached = this.#statusCache;
    if (cached !== undefined && cached.version === version && cached.writes === this.#statusWrites)
      return cached.statuses;
    const writes = this.#statusWrites;
    const statuses = Object.freeze(
      this.#db
        .prepare<[], { status: string }>("SELECT status FROM agent_status ORDER BY agent_id")
        .all()
        .map((r) => deepFreeze(JSON.parse(r.status)) as AgentStatus),
    );
    this.#statusCache = { version, writes, statuses };
    return statuses;
  }

  async appendAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#queue.run(async () => {
      this.#auditInsert ??= this.#db.prepare<(string | number | null)[]>(
        `INSERT INTO audit (${AUDIT_COLUMNS.join(", ")}) VALUES (${AUDIT_COLUMNS.map(() => "?").join(", ")})`,
      );
      const insert = this.#auditInsert;
      this.#db
        .transaction(() => {
          for (const r of records) insert.run(...auditValues(r));
        })
        .immediate();
    });
  }

  async audit(filter: AuditFilter = {}): Promise<readonly StoredAuditRecord[]> {
    const { sql, params } = auditQuery("audit", filter, () => "?");
    return this.#db
      .prepare<(string | number)[], AuditRow>(sql)
      .all(...params)
      .map(toAuditRecord);
  }

  async appendTicketEvent(event: TicketEvent): Promise<void> {
    await this.#queue.run(async () => {
      this.#db
        .prepare(`INSERT INTO ticket_events (${TICKET_EVENT_COLUMNS.join(", ")}) VALUES (?, ?, ?, ?, ?)`)
        .run(...ticketEventValues(event));
    });
  }

  async ticketEvents(ticket?: string): Promise<readonly TicketEvent[]> {
    return this.#db
      .prepare<string[], TicketEventRow>(ticketEventsQuery("ticket_events", ticket, "?"))
      .all(...(ticket === undefined ? [] : [ticket]))
      .map(toTicketEvent);
  }

  async appendGuardDecision(decision: GuardDecision): Promise<void> {
    await this.#queue.run(async () => {
      this.#db
        .prepare(
          `INSERT INTO guard_decisions (${GUARD_DECISION_COLUMNS.join(", ")}) VALUES (${GUARD_DECISION_COLUMNS.map(() => "?").join(", ")})`,
        )
        .run(...guardDecisionValues(decision));
    });
  }

  async guardDecisions(): Promise<readonly GuardDecision[]> {
    return this.#db
      .prepare<[], GuardDecisionRow>(guardDecisionsQuery("guard_decisions"))
      .all()
      .map(toGuardDecision);
  }

  /**
   * Runs one SQL statement on this store's own connection and returns how many rows it changed.
   * For the conformance suite and operator tooling, never the API: the statement meets the
   * database's guards like any other (the journal's triggers refuse UPDATE and DELETE).
   */
  async rawSql(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.#queue.run(async () => {
      const changes = this.#db.prepare(sql).run(...params).changes;
      // Whatever it touched, no status read before it is trusted.
      this.#statusWrites++;
      return changes;
    });
  }

  /** A new journal epoch (sqlite/epoch.ts), queued like a mutation; cached reads are dropped. */
  startEpoch(start: EpochStart): Promise<EpochResult> {
    return this.#queue.run(async () => {
      const result = startEpoch(this.#db, start, this.codec);
      this.#listCache.clear();
      for (const l of this.#listeners) l(result.revision);
      return result;
    });
  }

  onCommit(listener: (revision: Revision) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.#queue.idle();
    this.#db.close();
  }
}

/**
 * The database file is created readable by its owner only (SQLite gives its -wal and -shm files
 * the database file's mode), and an existing one is made so.
 */
function privateFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
  // Left by an older version with the default mode: SQLite reuses them rather than recreating them.
  for (const side of [`${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(side, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
