/**
 * Compaction of the PostgreSQL journal through one revision, inside the caller's transaction
 * (which holds the journal lock): the superseded versions go, the state at that revision is
 * proven unchanged by its digest, and the compaction is recorded. Undefined when an earlier
 * compaction already covers the revision (the caller rolls back).
 */
import type pg from "pg";
import { BallastError } from "../../model/errors.js";
import {
  COMPACTION_COLUMNS,
  compactionValues,
  newCompaction,
  type VersionRow,
  versionsDigest,
} from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { CompactionRecord, RevisionMeta } from "../store.js";
import { COMPACTING_SETTING } from "./schema.js";

export async function compactThrough(
  client: pg.PoolClient,
  s: string,
  through: number,
  meta: RevisionMeta,
  codec: DocCodec,
): Promise<CompactionRecord | undefined> {
  const bounds = await client.query<{ head: number | null; compacted: number; hash: string | null }>(
    `SELECT (SELECT max(number) FROM ${s}.revisions) AS head,
            (SELECT coalesce(max(through), 0) FROM ${s}.compactions) AS compacted,
            (SELECT hash FROM ${s}.revisions WHERE number = $1) AS hash`,
    [Number.isSafeInteger(through) ? through : 0],
  );
  const head = bounds.rows[0]?.head ?? 0;
  const throughHash = bounds.rows[0]?.hash ?? null;
  if (!Number.isSafeInteger(through) || through < 1 || through > head || throughHash === null) {
    throw new BallastError(
      "ValidationError",
      `cannot compact through revision ${through}: the journal holds revisions 1 to ${head}`,
    );
  }
  if (through <= (bounds.rows[0]?.compacted ?? 0)) return undefined;
  const digest = async (): Promise<string> => {
    const res = await client.query<VersionRow>(
      `SELECT DISTINCT ON (kind, key) kind, key, revision, doc FROM ${s}.versions
       WHERE revision <= $1 ORDER BY kind, key, revision DESC`,
      [through],
    );
    return versionsDigest(res.rows, codec);
  };
  const stateHash = await digest();
  // Lifts the journal's delete guard (schema.ts) for this transaction only: is_local = true is
  // SET LOCAL, undone by the COMMIT or ROLLBACK that ends it.
  await client.query("SELECT set_config($1, 'on', true)", [COMPACTING_SETTING]);
  const deleted = await client.query(
    `DELETE FROM ${s}.versions v WHERE v.revision <= $1 AND (
       EXISTS (SELECT 1 FROM ${s}.versions w WHERE w.kind = v.kind AND w.key = v.key
               AND w.revision > v.revision AND w.revision <= $1)
       OR (v.doc IS NULL AND NOT EXISTS (SELECT 1 FROM ${s}.versions w WHERE w.kind = v.kind
               AND w.key = v.key AND w.revision > v.revision)))`,
    [through],
  );
  const removed = deleted.rowCount ?? 0;
  await client.query("SELECT set_config($1, 'off', true)", [COMPACTING_SETTING]);
  // The promise of a compaction, checked before it commits: the state at `through` is unchanged.
  if ((await digest()) !== stateHash) {
    throw new BallastError(
      "InternalFailure",
      `compaction through revision ${through} would change its state`,
    );
  }
  const record = newCompaction(through, meta, removed, throughHash, stateHash);
  await client.query(
    `INSERT INTO ${s}.compactions (${COMPACTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    compactionValues(record),
  );
  return record;
}
