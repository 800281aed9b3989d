/**
 * The whole current state read from PostgreSQL at once: for a replica's (re)load of its memory, and
 * for verification, which needs the state and the revision it is at from one snapshot.
 */
import type pg from "pg";
import type { EntityKind } from "../../model/types.js";
import { type CurrentRow, toCurrent } from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { Current, CurrentSnapshot } from "../store.js";

export interface CurrentEntry {
  readonly kind: EntityKind;
  readonly key: string;
  readonly current: Current<EntityKind>;
}

type Row = CurrentRow & { kind: EntityKind; key: string };

function toEntry(row: Row, codec: DocCodec): CurrentEntry {
  return { kind: row.kind, key: row.key, current: toCurrent(row, row.kind, codec) };
}

/** Every current row, every kind, with its stored key: one query. */
export async function readCurrentEntries(pool: pg.Pool, s: string, codec: DocCodec): Promise<CurrentEntry[]> {
  const res = await pool.query<Row>(`SELECT kind, key, revision, doc FROM ${s}.current`);
  return res.rows.map((row) => toEntry(row, codec));
}

/** The current rows and the head in one REPEATABLE READ snapshot: one round trip, no retry. */
export async function readCurrentSnapshot(
  pool: pg.Pool,
  s: string,
  codec: DocCodec,
): Promise<CurrentSnapshot> {
  const client = await pool.connect();
  // A connection that breaks while checked out emits 'error' with nobody listening: held here,
  // and the connection released as broken (the pool discards it) instead of crashing the process.
  let broken: Error | undefined;
  const onError = (e: Error): void => {
    broken = e;
  };
  client.on("error", onError);
  try {
    const results = (await client.query(
      `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
       SELECT coalesce(max(number), 0) AS n FROM ${s}.revisions;
       SELECT kind, key, revision, doc FROM ${s}.current;
       COMMIT`,
    )) as unknown as pg.QueryResult[];
    const head = Number((results[1] as pg.QueryResult<{ n: number }>).rows[0]?.n ?? 0);
    const rows = (results[2] as pg.QueryResult<Row>).rows;
    return { head, entries: rows.map((row) => toEntry(row, codec)) };
  } catch (e) {
    broken ??= e instanceof Error ? e : new Error(String(e));
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}
