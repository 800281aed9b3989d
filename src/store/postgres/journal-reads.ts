/**
 * Reads of the PostgreSQL journal's own rows (revisions and entity versions), for the store and
 * for whoever checks the journal. Plain reads: none takes the journal lock.
 */
import type pg from "pg";
import type { EntityKind } from "../../model/types.js";
import { type RevisionRow, toRevision, toVersion, type VersionRow } from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { EntityVersion, JournalRows, Revision } from "../store.js";

export async function readRevision(pool: pg.Pool, s: string, number: number): Promise<Revision | undefined> {
  const res = await pool.query<RevisionRow>(`SELECT * FROM ${s}.revisions WHERE number = $1`, [number]);
  const row = res.rows[0];
  return row ? toRevision(row) : undefined;
}

/** Revisions in (from, to], in order. */
export async function readRevisions(pool: pg.Pool, s: string, from: number, to: number): Promise<Revision[]> {
  const res = await pool.query<RevisionRow>(
    `SELECT * FROM ${s}.revisions WHERE number > $1 AND number <= $2 ORDER BY number`,
    [from, to],
  );
  return res.rows.map(toRevision);
}

/** The entity versions of revisions in (from, to], in order. */
export async function readChanges(
  pool: pg.Pool,
  s: string,
  codec: DocCodec,
  from: number,
  to: number,
): Promise<EntityVersion[]> {
  const res = await pool.query<VersionRow>(
    `SELECT kind, key, revision, doc FROM ${s}.versions
     WHERE revision > $1 AND revision <= $2 ORDER BY revision, kind, key`,
    [from, to],
  );
  return res.rows.map((r) => toVersion(r, codec));
}

/** Every version of one entity, oldest first. */
export async function readHistory(
  pool: pg.Pool,
  s: string,
  codec: DocCodec,
  kind: EntityKind,
  key: string,
): Promise<EntityVersion[]> {
  const res = await pool.query<VersionRow>(
    `SELECT kind, key, revision, doc FROM ${s}.versions WHERE kind = $1 AND key = $2 ORDER BY revision`,
    [kind, key],
  );
  return res.rows.map((r) => toVersion(r, codec));
}

/** `Store.journalRows`: the journal's rows up to `through`, counted. */
export async function countJournalRows(pool: pg.Pool, s: string, through: number): Promise<JournalRows> {
  const res = await pool.query<{ revisions: number; versions: number }>(
    `SELECT (SELECT count(*)::int FROM ${s}.revisions WHERE number <= $1) AS revisions,
            (SELECT count(*)::int FROM ${s}.versions WHERE revision <= $1) AS versions`,
    [through],
  );
  return { revisions: res.rows[0]?.revisions ?? 0, versions: res.rows[0]?.versions ?? 0 };
}
