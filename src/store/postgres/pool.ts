/**
 * The store's connection pool: revision numbers read as numbers, broken idle connections dropped
 * (not thrown), and no parallel plans.
 */
import pg from "pg";
import type { Logger } from "../../util/logger.js";

const INT8_OID = 20;

/** Revision numbers are bigint; they stay far below 2^53, so read them as numbers. */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** A pool on `connectionString` of at most `max` connections, set up as the store needs them. */
export function openPool(connectionString: string, max: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, types });
  // An idle pooled connection that breaks (server restart, failover) must not crash the process;
  // the pool drops it and the next query opens a new one.
  pool.on("error", (err) => log.warn("idle PostgreSQL connection failed", { err }));
  // No parallel plans: the journal's reads are index lookups of a few rows. Once the journal
  // outgrew the planner's statistics it chose parallel plans for the reads under the journal
  // lock, each starting worker processes while every writer waited: two replicas fell from 1,300
  // to 500 mutations/s within 20 s. A SET on each new connection, not a startup option (a pooler
  // such as PgBouncer refuses startup options it does not know); it is queued before any query
  // the pool's user sends on that connection.
  pool.on("connect", (client) => {
    client.query("SET max_parallel_workers_per_gather = 0").catch((err: unknown) => {
      log.warn("could not turn off parallel plans on a PostgreSQL connection", { err });
    });
  });
  return pool;
}
