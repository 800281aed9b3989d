/**
 * A new journal epoch in PostgreSQL (Store.startEpoch), inside the caller's transaction (which
 * holds the journal lock): the journal's rows are copied into `<table>_epoch<k>` evidence tables,
 * the append-only triggers are dropped for this transaction only (DDL is transactional: they are
 * created again before it commits, and a rollback never dropped them), the journal and
 * the current state are emptied, and the repaired state becomes the first revision of a fresh
 * chain. Needs the tables' owner (a role without DELETE on the journal cannot repair it).
 */
import type pg from "pg";
import { APPEND_ONLY_TABLES, type PendingChange } from "../journal.js";
import { effectiveWrites, nextRevision } from "../journal-tx.js";
import { REVISION_COLUMNS, revisionValues } from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { EpochResult, EpochStart } from "../store.js";
import { journalGuardDdl } from "./schema.js";

const EPOCH_TABLES = ["compactions", "versions", "current", "revisions"] as const;

export async function startEpoch(
  client: pg.PoolClient,
  s: string,
  start: EpochStart,
  codec: DocCodec,
): Promise<EpochResult> {
  let k = 1;
  for (;;) {
    const r = await client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
      `${s}.revisions_epoch${k}`,
    ]);
    if (r.rows[0]?.t == null) break;
    k++;
  }
  const evidence: string[] = [];
  for (const t of EPOCH_TABLES) {
    await client.query(`CREATE TABLE ${s}.${t}_epoch${k} AS SELECT * FROM ${s}.${t}`);
    evidence.push(`${t}_epoch${k}`);
  }
  // Whoever damaged the journal may have dropped the guard: it is dropped here in any case, and
  // created again (function and triggers) before the transaction commits.
  for (const t of APPEND_ONLY_TABLES)
    await client.query(`DROP TRIGGER IF EXISTS ${t}_append_only ON ${s}.${t}`);
  for (const t of EPOCH_TABLES) await client.query(`DELETE FROM ${s}.${t}`);
  for (const stmt of journalGuardDdl(s)) await client.query(stmt);
  const writes: PendingChange[] = start.entities.map((e) => ({ kind: e.kind, key: e.key, doc: e.doc }));
  const { changes, texts } = effectiveWrites(writes, () => undefined, codec);
  const revision = nextRevision({ number: start.number - 1, hash: start.anchor }, start.meta, changes);
  await client.query(
    `INSERT INTO ${s}.revisions (${REVISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    revisionValues(revision),
  );
  await client.query(
    `WITH w AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS w(kind, key, doc)),
     v AS (INSERT INTO ${s}.versions (kind, key, revision, doc) SELECT kind, key, $1, doc FROM w)
     INSERT INTO ${s}.current (kind, key, revision, doc) SELECT kind, key, $1, doc FROM w WHERE doc IS NOT NULL`,
    [revision.number, changes.map((c) => c.kind), changes.map((c) => c.key), texts],
  );
  return { revision, evidence };
}
