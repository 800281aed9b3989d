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
  const types = ["bigint", "text", "text", "text", "text", "text", "text", "text", "text"];
  const r = types.map((t, i) => `$${i + 1}::${t}[]`).join(", ");
  await client.query(
    `WITH r AS (INSERT INTO ${s}.revisions (${REVISION_COLUMNS}) SELECT * FROM unnest(${r})),
     v AS (INSERT INTO ${s}.versions (kind, key, revision, doc)
           SELECT * FROM unnest($10::text[], $11::text[], $12::bigint[], $13::text[])),
     c AS (SELECT * FROM unnest($14::text[], $15::text[], $16::bigint[], $17::text[]) AS c(kind, key, revision, doc)),
     u AS (INSERT INTO ${s}.current (kind, key, revision, doc)
           SELECT kind, key, revision, doc FROM c WHERE doc IS NOT NULL
           ON CONFLICT (kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc),
     d AS (DELETE FROM ${s}.current x USING c WHERE c.doc IS NULL AND x.kind = c.kind AND x.key = c.key)
     SELECT CASE WHEN $18::text IS NULL THEN NULL ELSE pg_notify($18::text, $19::text) END`,
    [
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
    ],
  );
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
