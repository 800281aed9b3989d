/** The SQLite journal's schema and its larger statements. */
import { APPEND_ONLY_TABLES, appendOnlyMessage } from "../journal.js";

/**
 * The journal refuses edits in the database itself, whoever connects: triggers abort every UPDATE
 * and DELETE of a journal table, except a DELETE of versions while a compaction of this connection's
 * transaction has its row in `compaction_in_progress`. `current` (derived, updated by every
 * mutation) and `agent_status` (observed, overwritten) are not journal tables. Created with
 * IF NOT EXISTS, so opening an older database adds them.
 */
export const JOURNAL_TRIGGERS: readonly string[] = APPEND_ONLY_TABLES.flatMap((t) => [
  `${t}_no_update`,
  `${t}_no_delete`,
]);

const JOURNAL_GUARD = APPEND_ONLY_TABLES.map((t) => {
  const unless = t === "versions" ? "WHEN NOT EXISTS (SELECT 1 FROM compaction_in_progress) " : "";
  return `CREATE TRIGGER IF NOT EXISTS ${t}_no_update BEFORE UPDATE ON ${t}
BEGIN SELECT RAISE(ABORT, '${appendOnlyMessage("UPDATE", t)}'); END;
CREATE TRIGGER IF NOT EXISTS ${t}_no_delete BEFORE DELETE ON ${t} ${unless}
BEGIN SELECT RAISE(ABORT, '${appendOnlyMessage("DELETE", t)}'); END;
`;
}).join("");

export const SCHEMA = `
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
CREATE TABLE IF NOT EXISTS compactions (
  through          INTEGER PRIMARY KEY REFERENCES revisions(number),
  time             TEXT NOT NULL,
  principal        TEXT NOT NULL,
  source_ip        TEXT NOT NULL,
  request_id       TEXT NOT NULL,
  ticket           TEXT,
  versions_removed INTEGER NOT NULL,
  through_hash     TEXT NOT NULL,
  state_hash       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS current (
  kind     TEXT NOT NULL,
  key      TEXT NOT NULL,
  revision INTEGER NOT NULL,
  doc      TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);
-- The audit log (store.ts AuditRecord): every API call and denial, append-only like the journal.
CREATE TABLE IF NOT EXISTS audit (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  time          TEXT NOT NULL,
  principal     TEXT NOT NULL,
  access_key_id TEXT,
  action        TEXT NOT NULL,
  resource      TEXT NOT NULL,
  source_ip     TEXT NOT NULL,
  request_id    TEXT NOT NULL,
  result        TEXT NOT NULL,
  ticket        TEXT,
  count         INTEGER NOT NULL,
  break_glass   TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time);
-- Change tickets (model/ticket.ts): each ticket's events, append-only; a ticket is their fold.
CREATE TABLE IF NOT EXISTS ticket_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  ticket    TEXT NOT NULL,
  time      TEXT NOT NULL,
  kind      TEXT NOT NULL,
  principal TEXT NOT NULL,
  doc       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_events_by_ticket ON ticket_events(ticket);
-- Operators' decisions on guard holds (model/guard.ts GuardDecision), append-only.
CREATE TABLE IF NOT EXISTS guard_decisions (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  time             TEXT NOT NULL,
  zone             TEXT NOT NULL,
  decision         TEXT NOT NULL,
  through_revision INTEGER NOT NULL,
  principal        TEXT NOT NULL,
  ticket           TEXT,
  break_glass      TEXT
);
-- A row here only inside a compaction's own transaction (compaction.ts): it lets that
-- transaction, and nothing else, delete superseded versions. Never committed with a row.
CREATE TABLE IF NOT EXISTS compaction_in_progress (
  through INTEGER PRIMARY KEY
);
${JOURNAL_GUARD}`;

/** Columns added after their table was first shipped: added on open of an older database. */
export const ADDED_COLUMNS: readonly (readonly [table: string, column: string, type: string])[] = [
  ["audit", "break_glass", "TEXT"],
];

/** The state at @c: each entity's newest version at or before it (the bare `doc` rides along). */
export const STATE_AT_SQL = `
SELECT kind, key, doc, max(revision) AS revision FROM versions WHERE revision <= @c GROUP BY kind, key`;

/**
 * The versions a compaction through @c removes: superseded by a newer version at or before @c, or
 * a tombstone with nothing after it. Each EXISTS is a primary-key range lookup.
 */
export const COMPACT_SQL = `
DELETE FROM versions WHERE revision <= @c AND (
  EXISTS (SELECT 1 FROM versions w WHERE w.kind = versions.kind AND w.key = versions.key
          AND w.revision > versions.revision AND w.revision <= @c)
  OR (doc IS NULL AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.kind = versions.kind
          AND w.key = versions.key AND w.revision > versions.revision))
)`;

/**
 * The entities of @kinds (a JSON array) whose current document is not byte-identical to the one
 * the journal holds as of revision @at. `t` is the state at @at: the newest version of each entity
 * at or before it (SQLite takes the bare `doc` from the row holding max(revision)). The first half
 * finds entities the journal had at @at (tombstones included), the second those it never had.
 * Every join is a primary-key lookup.
 */
export const DIFFERENCES_SQL = `
WITH kinds AS (SELECT value AS kind FROM json_each(@kinds)),
t AS (
  SELECT kind, key, doc, max(revision) AS revision FROM versions
  WHERE revision <= @at AND kind IN kinds
  GROUP BY kind, key
)
SELECT t.kind AS kind, t.key AS key, t.doc AS past_doc, c.doc AS now_doc
FROM t LEFT JOIN current c ON c.kind = t.kind AND c.key = t.key
WHERE t.doc IS NOT c.doc
UNION ALL
SELECT c.kind, c.key, NULL, c.doc FROM current c
WHERE c.kind IN kinds AND NOT EXISTS (
  SELECT 1 FROM versions v WHERE v.kind = c.kind AND v.key = c.key AND v.revision <= @at
)`;
