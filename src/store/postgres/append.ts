/**
 * Writing revisions into the PostgreSQL journal: the caller holds the journal lock. A group-commit
 * batch that reads the replica's memory computes every revision of the batch first and appends them
 * all in ONE statement (revisions, versions, `current`, and the commit notification), so the lock
 * is held for a fixed number of round trips however many mutations the batch carries.
 */
import type pg from "pg";
import type { PendingChange } from "../journal.js";
import { REVISION_COLUMNS, revisionValues } from "../rows.js";
import type { Revision } from "../store.js";

/** The channel every writer notifies after commit; the payload is `<schema>:<revision>`. */
export const JOURNAL_CHANNEL = "ballast_journal";

/** One revision to append, with its changes and their texts as stored (null: a tombstone). */
export interface RevisionRows {
  readonly revision: Revision;
  readonly changes: readonly PendingChange[];
  readonly texts: readonly (string | null)[];
}

/**
 * Appends `rows` (consecutive revisions, in order) in one statement, one round trip; with `notify`,
 * the same statement tells every replica listening (delivered on commit only). The versions'
 * foreign key is checked at the end of the statement, when the revision rows are there.
 */
export async function insertRevisions(
  client: pg.PoolClient,
  s: string,
  rows: readonly RevisionRows[],
  notify?: { readonly schema: string; readonly head: number },
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    appendStatement(s, (i) => `$${i}`),
    appendParameters(rows, notify),
  );
}

/**
 * `insertRevisions` and the transaction's COMMIT in one round trip: the statement goes in the
 * simple protocol, its values written into the text as literals (arrays of text, numbers checked
 * whole), so the COMMIT can follow it in the same message. If the insert fails, PostgreSQL skips
 * the COMMIT and the transaction stays aborted for the caller's ROLLBACK. It resolves once the
 * commit is durable: `synchronous_commit` is on for the journal's transactions (transaction.ts).
 */
export async function insertRevisionsAndCommit(
  client: pg.PoolClient,
  s: string,
  rows: readonly RevisionRows[],
  notify: { readonly schema: string; readonly head: number },
): Promise<void> {
  const values = appendParameters(rows, notify);
  const literal = (v: (string | number | null)[] | string | null, i: number): string => {
    const type = PARAMETER_TYPES[i - 1] as string;
    if (v === null) return `NULL::${type}`;
    if (!Array.isArray(v)) return `${client.escapeLiteral(v)}::${type}`;
    if (type === "bigint[]") {
      for (const n of v) if (!Number.isSafeInteger(n)) throw new Error(`bad revision number ${n}`);
      return `ARRAY[${v.join(",")}]::bigint[]`;
    }
    return `${client.escapeLiteral(arrayLiteral(v as (string | null)[]))}::${type}`;
  };
  const sql = appendStatement(s, (i) =>
    literal(values[i - 1] as (string | number | null)[] | string | null, i),
  );
  const results = (await client.query(`${sql};\nCOMMIT`)) as unknown as pg.QueryResult[];
  // COMMIT of a transaction an earlier statement aborted answers ROLLBACK, not an error.
  if (results.at(-1)?.command !== "COMMIT") throw new Error("the transaction was aborted and rolled back");
}

/** A PostgreSQL array literal of text (`{"a","b",NULL}`), before it is quoted as an SQL literal. */
function arrayLiteral(items: readonly (string | null)[]): string {
  const quoted = items.map((x) => (x === null ? "NULL" : `"${x.replace(/[\\"]/g, (c) => `\\${c}`)}"`));
  return `{${quoted.join(",")}}`;
}

/** The types of the append statement's parameters, $1 to $19. */
const PARAMETER_TYPES = [
  "bigint[]",
  ...Array.from({ length: 8 }, () => "text[]"),
  "text[]",
  "text[]",
  "bigint[]",
  "text[]",
  "text[]",
  "text[]",
  "bigint[]",
  "text[]",
  "text",
  "text",
];

/** The append statement, with each parameter written by `p(i)` (a placeholder, or a literal). */
function appendStatement(s: string, p: (i: number) => string): string {
  const typed = (i: number): string => {
    const v = p(i);
    return v.startsWith("$") ? `${v}::${PARAMETER_TYPES[i - 1]}` : v;
  };
  const r = Array.from({ length: 9 }, (_, i) => typed(i + 1)).join(", ");
  return `WITH r AS (INSERT INTO ${s}.revisions (${REVISION_COLUMNS}) SELECT * FROM unnest(${r})),
     v AS (INSERT INTO ${s}.versions (kind, key, revision, doc)
           SELECT * FROM unnest(${typed(10)}, ${typed(11)}, ${typed(12)}, ${typed(13)})),
     c AS (SELECT * FROM unnest(${typed(14)}, ${typed(15)}, ${typed(16)}, ${typed(17)}) AS c(kind, key, revision, doc)),
     u AS (INSERT INTO ${s}.current (kind, key, revision, doc)
           SELECT kind, key, revision, doc FROM c WHERE doc IS NOT NULL
           ON CONFLICT (kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc),
     d AS (DELETE FROM ${s}.current x USING c WHERE c.doc IS NULL AND x.kind = c.kind AND x.key = c.key)
     SELECT CASE WHEN ${typed(18)} IS NULL THEN NULL ELSE pg_notify(${typed(18)}, ${typed(19)}) END`;
}

/** The append statement's 19 values: the revisions' columns, every version, each entity's last, the notification. */
function appendParameters(
  rows: readonly RevisionRows[],
  notify?: { readonly schema: string; readonly head: number },
): ((string | number | null)[] | string | null)[] {
  const revisionColumns: (string | number | null)[][] = REVISION_COLUMNS.split(",").map(() => []);
  for (const { revision } of rows)
    revisionValues(revision).forEach((v, i) => {
      revisionColumns[i]?.push(v);
    });
  const kinds: string[] = [];
  const keys: string[] = [];
  const numbers: number[] = [];
  const docs: (string | null)[] = [];
  /** `current` takes each entity's last write of the batch only: one row is changed once per statement. */
  const last = new Map<string, number>();
  for (const { revision, changes, texts } of rows) {
    changes.forEach((c, i) => {
      last.set(`${c.kind}\u0000${c.key}`, kinds.length);
      kinds.push(c.kind);
      keys.push(c.key);
      numbers.push(revision.number);
      docs.push(texts[i] ?? null);
    });
  }
  const latest = [...last.values()].sort((a, b) => a - b);
  const pick = <T>(xs: readonly T[]): T[] => latest.map((i) => xs[i] as T);
  return [
    ...revisionColumns,
    kinds,
    keys,
    numbers,
    docs,
    pick(kinds),
    pick(keys),
    pick(numbers),
    pick(docs),
    notify === undefined ? null : JOURNAL_CHANNEL,
    notify === undefined ? null : `${notify.schema}:${notify.head}`,
  ];
}

/**
 * Tells every replica listening that the journal moved (to `head`, or `compacted`/`epoch` for a
 * change that rewrote history). Sent inside the transaction: PostgreSQL delivers it on commit
 * only, so a listener never hears of a revision it cannot read yet, nor of one rolled back.
 */
export async function notifyCommit(
  client: pg.PoolClient,
  schema: string,
  head: number | string,
): Promise<void> {
  await client.query("SELECT pg_notify($1, $2)", [JOURNAL_CHANNEL, `${schema}:${head}`]);
}
