/**
 * Where the ELB API's removals are counted for the bulk-change rule (api/auth/bulk.ts): what one
 * principal took away within the last minute. One control plane on SQLite counts in its memory;
 * replicas on one PostgreSQL count in a table they share, so a principal alternating between
 * replicas meets one window, not one per replica.
 *
 * Counting is a reservation made before the call runs: the totals returned include the change
 * being counted, and two calls at once (on one replica or two) cannot both see the window below
 * the threshold. A call that then fails, or is refused, takes its reservation back.
 */
import pg from "pg";
import type { Logger } from "../util/logger.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { quoteIdent } from "./postgres/schema.js";
import type { Store } from "./store.js";

/** What one call removes, as counted. */
export interface RemovalCounts {
  readonly loadBalancers: number;
  readonly instances: number;
}

export interface Reservation {
  /** This principal's removals within the window, this change included. */
  readonly totals: RemovalCounts;
  /** Takes this change back out of the window (the call failed or was refused). */
  release(): Promise<void>;
}

export interface RemovalLedger {
  reserve(principal: string, change: RemovalCounts): Promise<Reservation>;
  close(): Promise<void>;
}

export const REMOVAL_WINDOW_MS = 60_000;

interface Entry extends RemovalCounts {
  readonly at: number;
}

/** A reservation waiting for the next batch. */
interface Waiting {
  readonly principal: string;
  readonly change: RemovalCounts;
  readonly resolve: (r: Reservation) => void;
  readonly reject: (e: unknown) => void;
}

/** Where a reservation was counted (its second, to release it) and the window's totals with it. */
interface ReservedRow {
  readonly second: string;
  readonly change: RemovalCounts;
  readonly totals: RemovalCounts;
}

/** This process's memory: right when one process serves every call (SQLite). */
export class MemoryRemovalLedger implements RemovalLedger {
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry[]>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async reserve(principal: string, change: RemovalCounts): Promise<Reservation> {
    // No await before the push: the check and the count are one step for the event loop.
    const since = this.#now() - REMOVAL_WINDOW_MS;
    const recent = (this.#entries.get(principal) ?? []).filter((e) => e.at > since);
    const entry: Entry = { at: this.#now(), ...change };
    recent.push(entry);
    this.#entries.set(principal, recent);
    const totals = {
      loadBalancers: recent.reduce((n, e) => n + e.loadBalancers, 0),
      instances: recent.reduce((n, e) => n + e.instances, 0),
    };
    return {
      totals,
      release: async () => {
        const list = this.#entries.get(principal);
        const i = list?.indexOf(entry) ?? -1;
        if (list !== undefined && i >= 0) list.splice(i, 1);
        if (list?.length === 0) this.#entries.delete(principal);
      },
    };
  }

  async close(): Promise<void> {}
}

/** Advisory-lock class of a principal's window: ASCII "BLBK". */
const WINDOW_LOCK_CLASS = 0x424c424b;
/** Seconds older than this are deleted as new ones come (the window needs one minute). */
const KEEP_SECONDS = 300;

/**
 * A table every replica on the database shares (`bulk_removal_seconds`, in the journal's schema). Not
 * journaled: a count of recent calls, not state. Times are the database's clock, so replicas
 * whose clocks disagree still share one minute.
 */
export class PostgresRemovalLedger implements RemovalLedger {
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #logger: Logger;
  #ready: Promise<void> | undefined;
  readonly #waiting: Waiting[] = [];
  #sending = false;

  constructor(connectionString: string, schema: string, logger: Logger) {
    this.#pool = new pg.Pool({ connectionString, max: 2, application_name: "ballast-bulk-window" });
    this.#pool.on("error", (err) => logger.warn("bulk-window connection failed", { err }));
    this.#table = `${quoteIdent(schema)}.bulk_removal_seconds`;
    this.#logger = logger;
  }

  #ensure(): Promise<void> {
    this.#ready ??= this.#createTable().catch((e: unknown) => {
      this.#ready = undefined; // tried again on the next call
      throw e;
    });
    return this.#ready;
  }

  /** Replicas starting together would race on IF NOT EXISTS: they take turns on a lock. */
  async #createTable(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1, 0)", [WINDOW_LOCK_CLASS]);
      // One row per principal and second of the database's clock: the window's sum reads at most
      // 61 rows however many removals it counts. `bulk_removals` (a row per removal) came before;
      // it is left to the replicas of that version during a rolling upgrade.
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#table} (
          principal text NOT NULL,
          second bigint NOT NULL,
          load_balancers integer NOT NULL,
          instances integer NOT NULL,
          PRIMARY KEY (principal, second)
        )`,
      );
      await client.query("COMMIT");
      client.release();
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(true);
      throw e;
    }
  }

  /**
   * Reservations made while a batch is in flight wait for the next one: a replica sends one batch
   * at a time, so a burst of removals costs one round trip, not six each.
   */
  reserve(principal: string, change: RemovalCounts): Promise<Reservation> {
    for (const n of [change.loadBalancers, change.instances])
      if (!Number.isSafeInteger(n) || n < 0) return Promise.reject(new Error(`bad removal count ${n}`));
    return new Promise<Reservation>((resolve, reject) => {
      this.#waiting.push({ principal, change, resolve, reject });
      if (!this.#sending) void this.#send();
    });
  }

  async #send(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0);
        try {
          await this.#ensure();
          const rows = await this.#reserveBatch(batch);
          batch.forEach((w, i) => {
            w.resolve(this.#reservation(w.principal, rows[i] as ReservedRow));
          });
        } catch (e) {
          for (const w of batch) w.reject(e);
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  /**
   * One round trip for the whole batch: each principal's lock (taken in one order on every
   * replica, so two batches cannot deadlock), its old rows dropped, its sum in the window, and the
   * batch added to its current second. The batch's totals follow its order: each includes the ones
   * before it. The window is the current second and the 60 before it, so it never counts less than
   * a minute. The commit is not waited on for the disk: this is a count of the last minute, not
   * state, and a committed row is seen by every replica at once either way.
   */
  async #reserveBatch(batch: readonly Waiting[]): Promise<ReservedRow[]> {
    const client = await this.#pool.connect();
    const literal = (text: string): string => client.escapeLiteral(text);
    const added = new Map<string, RemovalCounts>();
    for (const { principal, change } of batch) {
      const sum = added.get(principal) ?? { loadBalancers: 0, instances: 0 };
      added.set(principal, {
        loadBalancers: sum.loadBalancers + change.loadBalancers,
        instances: sum.instances + change.instances,
      });
    }
    const principals = [...added.keys()].sort();
    const listed = principals.map(literal).join(", ");
    const second = "floor(extract(epoch FROM clock_timestamp()))::bigint";
    const sql = [
      "BEGIN;",
      "SET LOCAL synchronous_commit = off;",
      ...principals.map(
        (p) => `SELECT pg_advisory_xact_lock(${WINDOW_LOCK_CLASS}, hashtext(${literal(p)}));`,
      ),
      `DELETE FROM ${this.#table} WHERE principal IN (${listed}) AND second < ${second} - ${KEEP_SECONDS};`,
      `SELECT principal, coalesce(sum(load_balancers), 0) AS lbs, coalesce(sum(instances), 0) AS instances
         FROM ${this.#table}
        WHERE principal IN (${listed}) AND second >= ${second} - ${REMOVAL_WINDOW_MS / 1000}
        GROUP BY principal;`,
      `INSERT INTO ${this.#table} AS t (principal, second, load_balancers, instances) VALUES ${principals
        .map((p) => {
          const sum = added.get(p) as RemovalCounts;
          return `(${literal(p)}, ${second}, ${sum.loadBalancers}, ${sum.instances})`;
        })
        .join(", ")}
       ON CONFLICT (principal, second) DO UPDATE SET
         load_balancers = t.load_balancers + excluded.load_balancers,
         instances = t.instances + excluded.instances
       RETURNING principal, second;`,
      "COMMIT;",
    ].join("\n");
    let results: pg.QueryResult[];
    try {
      results = (await client.query(sql)) as unknown as pg.QueryResult[];
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(true);
      throw e;
    }
    client.release();
    const sums = (results.at(-3)?.rows ?? []) as { principal: string; lbs: string; instances: string }[];
    const seconds = new Map<string, string>();
    for (const r of (results.at(-2)?.rows ?? []) as { principal: string; second: string }[])
      seconds.set(r.principal, String(r.second));
    const running = new Map<string, RemovalCounts>();
    for (const r of sums)
      running.set(r.principal, { loadBalancers: Number(r.lbs), instances: Number(r.instances) });
    return batch.map((w) => {
      const before = running.get(w.principal) ?? { loadBalancers: 0, instances: 0 };
      const totals = {
        loadBalancers: before.loadBalancers + w.change.loadBalancers,
        instances: before.instances + w.change.instances,
      };
      running.set(w.principal, totals);
      return { second: seconds.get(w.principal) ?? "0", change: w.change, totals };
    });
  }

  #reservation(principal: string, reserved: ReservedRow): Reservation {
    return {
      totals: reserved.totals,
      release: async () => {
        try {
          await this.#pool.query(
            `UPDATE ${this.#table} SET load_balancers = greatest(0, load_balancers - $3),
                    instances = greatest(0, instances - $4)
              WHERE principal = $1 AND second = $2`,
            [principal, reserved.second, reserved.change.loadBalancers, reserved.change.instances],
          );
        } catch (err) {
          // Left counted: the window errs towards asking for a ticket, and forgets it within a minute.
          this.#logger.warn("could not take a removal back out of the bulk window", { err, principal });
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** The ledger for a store: shared when the store is PostgreSQL, this process's memory otherwise. */
export function removalLedgerFor(store: Store, logger: Logger): RemovalLedger {
  return store instanceof PostgresStore
    ? new PostgresRemovalLedger(store.connectionString, store.schema, logger)
    : new MemoryRemovalLedger();
}
