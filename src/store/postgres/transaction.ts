/**
 * The transaction every append and compaction of the PostgreSQL journal runs in: it first locks
 * the journal's single lock row, so writers in every process take turns, and it is acknowledged
 * only once flushed (`synchronous_commit` is never left `off`).
 */
import type pg from "pg";

export interface LockedOptions<T> {
  /**
   * Let the server end the session if it idles 60 s inside the transaction: a mutation runs caller
   * code while it holds the lock, and a hung caller must not stop every writer.
   */
  readonly idleTimeout?: boolean;
  /** Whether to commit what `fn` returned; otherwise it is rolled back. Default: always commit. */
  readonly commit?: (value: T) => boolean;
  /**
   * More statements (no parameters) sent in the same round trip, run once the lock is held; their
   * results reach `fn` in order.
   */
  readonly thenRead?: readonly string[];
}

/** The journal's newest revision, as read once the lock is held. */
export interface JournalHead {
  readonly number: number;
  readonly hash: string;
}

/** Runs `fn` on one pooled connection inside a transaction that holds the journal lock of schema `s`. */
export async function underJournalLock<T>(
  pool: pg.Pool,
  s: string,
  fn: (
    client: pg.PoolClient,
    head: JournalHead | undefined,
    read: readonly pg.QueryResult[],
    /** `fn` sets `committed` when its last statement carried the COMMIT (one round trip fewer). */
    ending: { committed: boolean },
  ) => Promise<T>,
  opts: LockedOptions<T> = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // One round trip: begin, never acknowledge before the commit is flushed, take the lock, and
    // read the journal's head (nobody can move it now).
    const results = (await client.query(
      [
        "BEGIN ISOLATION LEVEL READ COMMITTED;",
        "SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off';",
        ...(opts.idleTimeout
          ? ["SELECT set_config('idle_in_transaction_session_timeout', '60s', true);"]
          : []),
        `SELECT 1 FROM ${s}.journal_lock WHERE id = 1 FOR UPDATE;`,
        `SELECT number, hash FROM ${s}.revisions ORDER BY number DESC LIMIT 1;`,
        ...(opts.thenRead ?? []),
      ].join("\n"),
    )) as unknown as pg.QueryResult[];
    const extra = opts.thenRead?.length ?? 0;
    const head = results.at(-1 - extra)?.rows[0] as JournalHead | undefined;
    const ending = { committed: false };
    const value = await fn(client, head, results.slice(results.length - extra), ending);
    if (ending.committed) return value;
    const commit = opts.commit?.(value) ?? true;
    const ended = await client.query(commit ? "COMMIT" : "ROLLBACK");
    // COMMIT of a transaction an earlier statement aborted answers ROLLBACK, not an error.
    if (commit && ended.command === "ROLLBACK")
      throw new Error("the transaction was aborted and rolled back");
    return value;
  } catch (e) {
    // A connection that cannot even roll back is released as broken, so the pool discards it.
    await client.query("ROLLBACK").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw e;
  } finally {
    client.release(broken);
  }
}
