/**
 * The PostgreSQL tables of the journal: the same meaning as the SQLite ones, plus one lock row that
 * serialises appends across every process writing the database.
 *
 * Keys use the "C" collation so `ORDER BY key` sorts bytewise like SQLite, whatever the database
 * locale. Documents are stored as the exact JSON text that was hashed, not as jsonb: jsonb reorders
 * keys and cannot hold U+0000, and the journal must give back exactly what it was given.
 */
import type pg from "pg";
import { APPEND_ONLY_TABLES, appendOnlyMessage } from "../journal.js";

/** Identifies "schema DDL for Ballast" among advisory locks: ASCII "BLST". */
const DDL_LOCK_CLASS = 0x424c5354;

const TABLES = [
  "revisions",
  "versions",
  "current",
  "agent_status",
  "journal_lock",
  "compactions",
  "audit",
  "ticket_events",
  "guard_decisions",
];

/** The transaction-local setting that lets a compaction, and nothing else, delete versions. */
export const COMPACTING_SETTING = "ballast.compacting";

/** The guard triggers, one per journal table (APPEND_ONLY_TABLES), all calling one function. */
export const JOURNAL_TRIGGERS: readonly string[] = APPEND_ONLY_TABLES.map((t) => `${t}_append_only`);

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The statements that create the journal in schema `s` (already quoted), each idempotent. */
function ddl(s: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.revisions (
      number     bigint PRIMARY KEY CHECK (number > 0),
      time       text NOT NULL,
      principal  text NOT NULL,
      source_ip  text NOT NULL,
      request_id text NOT NULL,
      action     text NOT NULL,
      ticket     text,
      prev_hash  text NOT NULL,
      hash       text NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS ${s}.versions (
      kind     text COLLATE "C" NOT NULL,
      key      text COLLATE "C" NOT NULL,
      revision bigint NOT NULL REFERENCES ${s}.revisions(number),
      doc      text,
      PRIMARY KEY (kind, key, revision)
    )`,
    `CREATE INDEX IF NOT EXISTS versions_by_revision ON ${s}.versions(revision)`,
    `CREATE TABLE IF NOT EXISTS ${s}.current (
      kind     text COLLATE "C" NOT NULL,
      key      text COLLATE "C" NOT NULL,
      revision bigint NOT NULL,
      doc      text NOT NULL,
      PRIMARY KEY (kind, key)
    )`,
    `CREATE TABLE IF NOT EXISTS ${s}.agent_status (
      agent_id text COLLATE "C" PRIMARY KEY,
      status   text NOT NULL
    )`,
    // Every append locks this one row first (SELECT ... FOR UPDATE), so revision numbers are
    // handed out one writer at a time, in commit order, with no gap.
    `CREATE TABLE IF NOT EXISTS ${s}.journal_lock (
      id smallint PRIMARY KEY CHECK (id = 1)
    )`,
    `INSERT INTO ${s}.journal_lock (id) VALUES (1) ON CONFLICT DO NOTHING`,
    // One row per explicit compaction (store.ts `compact`); added later, so created on open of an
    // older database too.
    `CREATE TABLE IF NOT EXISTS ${s}.compactions (
      through          bigint PRIMARY KEY REFERENCES ${s}.revisions(number),
      time             text NOT NULL,
      principal        text NOT NULL,
      source_ip        text NOT NULL,
      request_id       text NOT NULL,
      ticket           text,
      versions_removed bigint NOT NULL,
      through_hash     text NOT NULL,
      state_hash       text NOT NULL
    )`,
    // The audit log (store.ts AuditRecord): every API call and denial; append-only like the
    // journal (APPEND_ONLY_TABLES). Added later, so created on open of an older database too.
    `CREATE TABLE IF NOT EXISTS ${s}.audit (
      id            bigserial PRIMARY KEY,
      time          text NOT NULL,
      principal     text NOT NULL,
      access_key_id text,
      action        text NOT NULL,
      resource      text NOT NULL,
      source_ip     text NOT NULL,
      request_id    text NOT NULL,
      result        text NOT NULL,
      ticket        text,
      count         bigint NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS audit_by_time ON ${s}.audit (time)`,
    `ALTER TABLE ${s}.audit ADD COLUMN IF NOT EXISTS break_glass text`,
    // Change tickets (model/ticket.ts): each ticket's events; a ticket is their fold. And the
    // operators' decisions on guard holds. Both append-only (APPEND_ONLY_TABLES).
    `CREATE TABLE IF NOT EXISTS ${s}.ticket_events (
      id        bigserial PRIMARY KEY,
      ticket    text COLLATE "C" NOT NULL,
      time      text NOT NULL,
      kind      text NOT NULL,
      principal text NOT NULL,
      doc       text NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS ticket_events_by_ticket ON ${s}.ticket_events (ticket)`,
    `CREATE TABLE IF NOT EXISTS ${s}.guard_decisions (
      id               bigserial PRIMARY KEY,
      time             text NOT NULL,
      zone             text NOT NULL,
      decision         text NOT NULL,
      through_revision bigint NOT NULL,
      principal        text NOT NULL,
      ticket           text,
      break_glass      text
    )`,
    // The journal refuses edits in the database itself, from any connection: UPDATE, DELETE and
    // TRUNCATE of a journal table raise, except a DELETE of versions in a transaction that set
    // ballast.compacting (SET LOCAL: it ends with the transaction) — compaction.ts. Added later
    // than the tables, so created (or replaced) on open of an older database too.
    `CREATE OR REPLACE FUNCTION ${s}.journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $guard$
    BEGIN
      IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'versions'
         AND current_setting('${COMPACTING_SETTING}', true) = 'on' THEN
        RETURN NULL;
      END IF;
      RAISE EXCEPTION '${appendOnlyMessage("%", "%")}', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END
    $guard$`,
    ...APPEND_ONLY_TABLES.map(
      (t) => `CREATE OR REPLACE TRIGGER ${t}_append_only
        BEFORE UPDATE OR DELETE OR TRUNCATE ON ${s}.${t}
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.journal_append_only()`,
    ),
  ];
}

/** The journal's append-only guard alone (its function and triggers), to create it again. */
export function journalGuardDdl(s: string): string[] {
  return ddl(s).slice(-(APPEND_ONLY_TABLES.length + 1));
}

/**
 * Creates the schema and its tables if absent. Several processes may start at once: an advisory
 * lock makes them take turns, since concurrent `CREATE ... IF NOT EXISTS` can still collide.
 */
export async function ensureSchema(client: pg.PoolClient, schema: string): Promise<void> {
  // Already there: touch nothing, so a role with no CREATE privilege can run on a migrated database.
  const present = await client.query<{ tables: string; triggers: string }>(
    `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($2::text[])) AS tables,
            (SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND g.tgname = ANY($3::text[])) AS triggers`,
    [schema, TABLES, JOURNAL_TRIGGERS],
  );
  const row = present.rows[0];
  if (Number(row?.tables) === TABLES.length && Number(row?.triggers) === JOURNAL_TRIGGERS.length) return;
  const s = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [DDL_LOCK_CLASS, schema]);
    // CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists.
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`);
    for (const stmt of ddl(s)) await client.query(stmt);
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}
