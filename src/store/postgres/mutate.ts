/**
 * Mutations of the PostgreSQL journal. Each attempt is one transaction under the journal lock:
 * the callback reads committed state nobody else can change until it commits, so revision numbers
 * follow commit order with no gap and no update is lost. An attempt the server aborts runs again.
 */
import type pg from "pg";
import type { EntityKind } from "../../model/types.js";
import { collapseWrites, type PendingChange } from "../journal.js";
import { effectiveWrites, mutationTx, nextRevision } from "../journal-tx.js";
import {
  type CurrentRow,
  type DifferenceRow,
  REVISION_COLUMNS,
  revisionValues,
  toDifference,
} from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { MutationResult, MutationTx, Revision, RevisionMeta } from "../store.js";
import { underJournalLock } from "./transaction.js";

const MAX_ATTEMPTS = 20;
/** serialization_failure, deadlock_detected, lock_not_available: the attempt can simply run again. */
const RETRYABLE = new Set(["40001", "40P01", "55P03"]);

/** Runs `fn` and appends its writes in schema `s`; `notify` hears of the appended revision. */
export async function mutate<T>(
  pool: pg.Pool,
  s: string,
  meta: RevisionMeta,
  fn: (tx: MutationTx) => Promise<T>,
  notify: (revision: Revision) => void,
  codec: DocCodec,
): Promise<MutationResult<T>> {
  for (let attempt = 1; ; attempt++) {
    let outcome: MutationResult<T>;
    try {
      outcome = await underJournalLock(
        pool,
        s,
        async (client) => {
          const writes: PendingChange[] = [];
          const result = await fn(tx(client, s, writes, codec));
          const revision = await append(client, s, meta, collapseWrites(writes), codec);
          return { revision, result };
        },
        { idleTimeout: true },
      );
    } catch (e) {
      if (attempt < MAX_ATTEMPTS && isRetryable(e)) continue;
      throw e;
    }
    if (outcome.revision) notify(outcome.revision);
    return outcome;
  }
}

/** The current row of one entity; the store reads through this too. */
export async function currentRow(
  db: pg.Pool | pg.PoolClient,
  s: string,
  kind: string,
  key: string,
): Promise<(CurrentRow & { key: string }) | undefined> {
  const res = await db.query<CurrentRow & { key: string }>(
    `SELECT key, revision, doc FROM ${s}.current WHERE kind = $1 AND key = $2`,
    [kind, key],
  );
  return res.rows[0];
}

/** The current rows of one kind, by key; the store reads through this too. */
export async function currentRows(
  db: pg.Pool | pg.PoolClient,
  s: string,
  kind: string,
): Promise<(CurrentRow & { key: string })[]> {
  const res = await db.query<CurrentRow & { key: string }>(
    `SELECT key, revision, doc FROM ${s}.current WHERE kind = $1 ORDER BY key`,
    [kind],
  );
  return res.rows;
}

function tx(client: pg.PoolClient, s: string, writes: PendingChange[], codec: DocCodec): MutationTx {
  return mutationTx(
    {
      doc: async (kind, key) => (await currentRow(client, s, kind, key))?.doc,
      docs: (kind) => currentRows(client, s, kind),
      // On the mutation's own connection, under the journal lock: nobody commits until it ends.
      differencesFrom: async (at: number, kinds: readonly EntityKind[]) => {
        const res = await client.query<DifferenceRow>(
          `WITH t AS (
             SELECT DISTINCT ON (kind, key) kind, key, doc FROM ${s}.versions
             WHERE revision <= $1 AND kind = ANY($2::text[])
             ORDER BY kind, key, revision DESC
           ),
           c AS (SELECT kind, key, doc FROM ${s}.current WHERE kind = ANY($2::text[]))
           SELECT coalesce(t.kind, c.kind) AS kind, coalesce(t.key, c.key) AS key,
                  t.doc AS past_doc, c.doc AS now_doc
           FROM t FULL JOIN c ON c.kind = t.kind AND c.key = t.key
           WHERE t.doc IS DISTINCT FROM c.doc`,
          [at, kinds],
        );
        return res.rows.map((r) => toDifference(r, codec));
      },
    },
    writes,
    codec,
  );
}

/** Appends the writes that change something as the next revision; the caller holds the lock. */
async function append(
  client: pg.PoolClient,
  s: string,
  meta: RevisionMeta,
  writes: readonly PendingChange[],
  codec: DocCodec,
): Promise<Revision | undefined> {
  if (writes.length === 0) return undefined;
  const before = await client.query<{ kind: string; key: string; doc: string }>(
    `SELECT c.kind, c.key, c.doc FROM ${s}.current c
     JOIN unnest($1::text[], $2::text[]) AS w(kind, key) ON c.kind = w.kind AND c.key = w.key`,
    [writes.map((w) => w.kind), writes.map((w) => w.key)],
  );
  const stored = new Map<string, string>();
  for (const r of before.rows) stored.set(`${r.kind}\u0000${r.key}`, r.doc);
  const { changes, texts } = effectiveWrites(writes, (kind, key) => stored.get(`${kind}\u0000${key}`), codec);
  if (changes.length === 0) return undefined;

  const last = await client.query<{ number: number; hash: string }>(
    `SELECT number, hash FROM ${s}.revisions ORDER BY number DESC LIMIT 1`,
  );
  const revision = nextRevision(last.rows[0], meta, changes);
  await client.query(
    `INSERT INTO ${s}.revisions (${REVISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    revisionValues(revision),
  );
  await client.query(
    `WITH w AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS w(kind, key, doc)),
     v AS (INSERT INTO ${s}.versions (kind, key, revision, doc) SELECT kind, key, $1, doc FROM w),
     u AS (INSERT INTO ${s}.current (kind, key, revision, doc)
           SELECT kind, key, $1, doc FROM w WHERE doc IS NOT NULL
           ON CONFLICT (kind, key) DO UPDATE SET revision = excluded.revision, doc = excluded.doc)
     DELETE FROM ${s}.current c USING w WHERE w.doc IS NULL AND c.kind = w.kind AND c.key = w.key`,
    [revision.number, changes.map((w) => w.kind), changes.map((w) => w.key), texts],
  );
  return revision;
}

function isRetryable(e: unknown): boolean {
  return e instanceof Error && "code" in e && typeof e.code === "string" && RETRYABLE.has(e.code);
}
