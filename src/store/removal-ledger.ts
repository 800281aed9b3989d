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
/** Rows older than this are deleted as new ones come (the window needs one minute). */
const KEEP = "5 minutes";

/**
 * A table every replica on the database shares (`bulk_removals`, in the journal's schema). Not
 * journaled: a count of recent calls, not state. Times are the database's clock, so replicas
 * whose clocks disagree still share one minute.
 */
export class PostgresRemovalLedger implements RemovalLedger {
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #logger: Logger;
  #ready: Promise<void> | undefined;

  constructor(connectionString: string, schema: string, logger: Logger) {
    this.#pool = new pg.Pool({ connectionString, max: 2, application_name: "ballast-bulk-window" });
    this.#pool.on("error", (err) => logger.warn("bulk-window connection failed", { err }));
    this.#table = `${quoteIdent(schema)}.bulk_removals`;
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
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#table} (
          id bigserial PRIMARY KEY,
          principal text NOT NULL,
          at timestamptz NOT NULL DEFAULT clock_timestamp(),
          load_balancers integer NOT NULL,
          instances integer NOT NULL
        )`,
      );
      await client.query(
        `CREATE INDEX IF NOT EXISTS bulk_removals_principal_at ON ${this.#table} (principal, at)`,
      );
      await client.query("COMMIT");
      client.release();
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(true);
      throw e;
    }
  }

  async reserve(principal: string, change: RemovalCounts): Promise<Reservation> {
    await this.#ensure();
    const client = await this.#pool.connect();
    let id: string;
    let totals: RemovalCounts;
    try {
      await client.query("BEGIN");
      // One principal's reservations take turns, on every replica: the sum and the insert are one step.
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WINDOW_LOCK_CLASS, principal]);
      await client.query(
        `DELETE FROM ${this.#table} WHERE principal = $1 AND at < clock_timestamp() - interval '${KEEP}'`,
        [principal],
      );
      const sums = await client.query<{ lbs: string; instances: string }>(
        `SELECT coalesce(sum(load_balancers), 0) AS lbs, coalesce(sum(instances), 0) AS instances
           FROM ${this.#table}
          WHERE principal = $1 AND at > clock_timestamp() - make_interval(secs => $2)`,
        [principal, REMOVAL_WINDOW_MS / 1000],
      );
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO ${this.#table} (principal, load_balancers, instances) VALUES ($1, $2, $3) RETURNING id`,
        [principal, change.loadBalancers, change.instances],
      );
      await client.query("COMMIT");
      id = inserted.rows[0]?.id ?? "";
      totals = {
        loadBalancers: Number(sums.rows[0]?.lbs ?? 0) + change.loadBalancers,
        instances: Number(sums.rows[0]?.instances ?? 0) + change.instances,
      };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(true);
      throw e;
    }
    client.release();
    return {
      totals,
      release: async () => {
        try {
          await this.#pool.query(`DELETE FROM ${this.#table} WHERE id = $1`, [id]);
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
