/**
 * Mutations of the PostgreSQL journal. Each attempt is one transaction under the journal lock:
 * the callback reads committed state nobody else can change until it commits, so revision numbers
 * follow commit order with no gap and no update is lost. An attempt the server aborts runs again.
 * Concurrent mutations of one process share a transaction (group commit, `commitBatch`).
 */
import type pg from "pg";
import type { EntityKind } from "../../model/types.js";
import { collapseWrites, type PendingChange } from "../journal.js";
import { effectiveWrites, mutationTx, nextRevision } from "../journal-tx.js";
import {
  type CurrentRow,
  type DifferenceRow,
  type RevisionRow,
  toDifference,
  toRevision,
  toVersion,
  type VersionRow,
} from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { EntityDifference, MutationResult, MutationTx, Revision, RevisionMeta } from "../store.js";
import { insertRevisions, insertRevisionsAndCommit, notifyCommit, type RevisionRows } from "./append.js";
import { type Appended, BatchView, type CommittedCache } from "./batch-view.js";
import { type JournalHead, underJournalLock } from "./transaction.js";

const MAX_ATTEMPTS = 20;
/** serialization_failure, deadlock_detected, lock_not_available: the attempt can simply run again. */
const RETRYABLE = new Set(["40001", "40P01", "55P03"]);

/** One mutation waiting for its turn: what it runs, and how its caller hears the outcome. */
export interface MutationJob {
  readonly meta: RevisionMeta;
  /** Compare against the database's rows, not the replica's memory (Store.mutate's `readStored`). */
  readonly readStored?: boolean;
  readonly fn: (tx: MutationTx) => Promise<unknown>;
  readonly resolve: (outcome: MutationResult<unknown>) => void;
  readonly reject: (e: unknown) => void;
}

export { JOURNAL_CHANNEL, notifyCommit } from "./append.js";

/** Where the batches go and whom to tell: the store's pool, schema, codec and listeners. */
export interface BatchTarget {
  readonly pool: pg.Pool;
  /** The schema, quoted. */
  readonly s: string;
  /** The schema as named (the notification payload's prefix). */
  readonly schema: string;
  readonly codec: DocCodec;
  /** Hears each appended revision after the commit, in order. */
  readonly notify: (revision: Revision) => void;
  /** Counts the transactions committed, the revisions they carried, and whether they read memory. */
  readonly committed: (revisions: number, fromMemory: boolean) => void;
  /** A replica's state in memory, read instead of the database when it is at the journal's head. */
  readonly cache?: CommittedCache | undefined;
}

/**
 * Group commit: runs every job of `jobs` in ONE transaction under the journal lock, one after the
 * other, each appending its own revision chained to the one before — so a burst of concurrent
 * mutations pays for one commit (one WAL flush) instead of one each, and every revision still has
 * its own number, meta and hash. A job whose callback throws is left out and fails alone; its
 * neighbours commit. If the database itself fails the batch (an aborted transaction: a bad
 * statement, a lost connection), nothing of it was committed, and each job runs again on its own,
 * so the error reaches only the job that causes it.
 */
export async function commitBatch(target: BatchTarget, jobs: readonly MutationJob[]): Promise<void> {
  // One job alone reads the database in its own transaction — unless the replica's memory can
  // answer, which saves its reads' round trips under the lock.
  if (jobs.length === 1 && target.cache === undefined) {
    const [job] = jobs as [MutationJob];
    await runAlone(target, job);
    return;
  }
  type Settled = { ok: true; value: MutationResult<unknown> } | { ok: false; error: unknown };
  let settled: Settled[];
  /** With the memory read: the head it was at, and what the batch appended after it. */
  let fromMemory: { from: number; appended: Appended[] } | undefined;
  try {
    // What other replicas committed after the memory's head is read in the lock's own round trip.
    const memoryHead = target.cache?.cachedHead();
    settled = await withRetries(() =>
      underJournalLock(
        target.pool,
        target.s,
        async (client, head, read, ending) => {
          let last: JournalHead | undefined = head;
          if (target.cache !== undefined && memoryHead !== undefined) applyCatchUp(target, memoryHead, read);
          // Memory at the journal's head is the committed state: read it, not the database —
          // unless a job must see the stored rows (a repair of rows removed behind our back).
          const view =
            target.cache !== undefined &&
            target.cache.cachedHead() === (last?.number ?? 0) &&
            !jobs.some((j) => j.readStored === true)
              ? new BatchView(target.cache)
              : undefined;
          const appended: Appended[] = [];
          fromMemory = view === undefined ? undefined : { from: last?.number ?? 0, appended };
          // Reading memory, the batch's revisions are computed first and appended together in one
          // statement at the end — unless a mutation asks the database (`differencesFrom`), which
          // must see what the batch wrote before it: then what is waiting is appended first.
          const waiting: RevisionRows[] = [];
          const flush = async (): Promise<void> => {
            await insertRevisions(client, target.s, waiting.splice(0));
          };
          const fromDatabase = differences(client, target.s, target.codec);
          const flushedDifferences: typeof fromDatabase = async (at, kinds) => {
            await flush();
            return fromDatabase(at, kinds);
          };
          const out: Settled[] = [];
          for (const job of jobs) {
            const writes: PendingChange[] = [];
            let result: unknown;
            try {
              result = await job.fn(
                view === undefined
                  ? tx(client, target.s, writes, target.codec)
                  : view.tx(writes, flushedDifferences),
              );
            } catch (error) {
              // The database failed it: the transaction is aborted, the batch falls back.
              if (isDatabaseError(error)) throw error;
              out.push({ ok: false, error });
              continue;
            }
            let revision: Revision | undefined;
            if (view === undefined) {
              revision = await append(client, target.s, job.meta, collapseWrites(writes), target.codec, last);
            } else {
              const { changes, texts } = view.effective(collapseWrites(writes), target.codec);
              if (changes.length > 0) {
                revision = nextRevision(last, job.meta, changes);
                waiting.push({ revision, changes, texts });
                view.record(changes);
                appended.push({ revision, changes });
              }
            }
            if (revision !== undefined) last = revision;
            out.push({ ok: true, value: { revision, result } });
          }
          const wrote = out.some((o) => o.ok && o.value.revision !== undefined);
          if (waiting.length > 0) {
            // The append and the commit in one round trip: the lock is held one round trip less.
            await insertRevisionsAndCommit(client, target.s, waiting, {
              schema: target.schema,
              head: last?.number ?? 0,
            });
            ending.committed = true;
          } else if (wrote) await notifyCommit(client, target.schema, last?.number ?? 0);
          return out;
        },
        {
          idleTimeout: true,
          ...(memoryHead === undefined ? {} : { thenRead: catchUpReads(target, memoryHead) }),
        },
      ),
    );
  } catch {
    for (const job of jobs) await runAlone(target, job);
    return;
  }
  const revisions = settled.filter((o) => o.ok && o.value.revision !== undefined).length;
  if (revisions > 0) target.committed(revisions, fromMemory !== undefined);
  if (fromMemory !== undefined && fromMemory.appended.length > 0)
    target.cache?.applyCommitted(fromMemory.from, fromMemory.appended);
  for (const o of settled) if (o.ok && o.value.revision) target.notify(o.value.revision);
  settled.forEach((o, i) => {
    const job = jobs[i] as MutationJob;
    if (o.ok) job.resolve(o.value);
    else job.reject(o.error);
  });
}

/**
 * The revisions and versions after the memory's head `from`, read once the journal lock is held:
 * what other replicas committed. Whole numbers only, written into the text (no parameters here).
 */
function catchUpReads(target: BatchTarget, from: number): string[] {
  if (!Number.isSafeInteger(from)) throw new Error(`bad revision ${from}`);
  return [
    `SELECT * FROM ${target.s}.revisions WHERE number > ${from} ORDER BY number;`,
    `SELECT kind, key, revision, doc FROM ${target.s}.versions WHERE revision > ${from} ORDER BY revision, kind, key`,
  ];
}

/**
 * Brings the replica's memory to the journal's head with what `catchUpReads(from)` returned, so
 * the batch reads memory rather than the database for every mutation. The memory may have moved
 * past `from` meanwhile (the replica followed the journal): only what is still after it is applied.
 */
function applyCatchUp(target: BatchTarget, from: number, read: readonly pg.QueryResult[]): void {
  const [revisionRows, versionRows] = read as [pg.QueryResult<RevisionRow>, pg.QueryResult<VersionRow>];
  if (revisionRows.rows.length === 0) return;
  const at = target.cache?.cachedHead() ?? from;
  const revisions = revisionRows.rows.map(toRevision).filter((r) => r.number > at);
  if (revisions.length === 0) return;
  target.cache?.applyJournal(
    at,
    revisions,
    versionRows.rows.filter((r) => Number(r.revision) > at).map((r) => toVersion(r, target.codec)),
  );
}

/** One job in its own transaction, run again while the server aborts it for a retryable reason. */
async function runAlone(target: BatchTarget, job: MutationJob): Promise<void> {
  let outcome: MutationResult<unknown>;
  try {
    outcome = await withRetries(() =>
      underJournalLock(
        target.pool,
        target.s,
        async (client, last) => {
          const writes: PendingChange[] = [];
          const result = await job.fn(tx(client, target.s, writes, target.codec));
          const revision = await append(
            client,
            target.s,
            job.meta,
            collapseWrites(writes),
            target.codec,
            last,
          );
          if (revision) await notifyCommit(client, target.schema, revision.number);
          return { revision, result };
        },
        { idleTimeout: true },
      ),
    );
  } catch (e) {
    job.reject(e);
    return;
  }
  if (outcome.revision) {
    target.committed(1, false);
    target.notify(outcome.revision);
  }
  job.resolve(outcome);
}

async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (n < MAX_ATTEMPTS && isRetryable(e)) continue;
      throw e;
    }
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
      differencesFrom: differences(client, s, codec),
    },
    writes,
    codec,
  );
}

/** `differencesFrom` on the mutation's own connection, under the journal lock: nobody commits until it ends. */
function differences(
  client: pg.PoolClient,
  s: string,
  codec: DocCodec,
): (at: number, kinds: readonly EntityKind[]) => Promise<readonly EntityDifference[]> {
  return async (at, kinds) => {
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
  };
}

/** Appends the writes that change something as the next revision; the caller holds the lock. */
async function append(
  client: pg.PoolClient,
  s: string,
  meta: RevisionMeta,
  writes: readonly PendingChange[],
  codec: DocCodec,
  last: { readonly number: number; readonly hash: string } | undefined,
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

  const revision = nextRevision(last, meta, changes);
  await insertRevisions(client, s, [{ revision, changes, texts }]);
  return revision;
}

/** An error the server sent (it carries a SQLSTATE and a severity): the transaction is aborted. */
function isDatabaseError(e: unknown): boolean {
  return e instanceof Error && "severity" in e && "code" in e;
}

function isRetryable(e: unknown): boolean {
  return e instanceof Error && "code" in e && typeof e.code === "string" && RETRYABLE.has(e.code);
}
