/**
 * The audit log's table and its one query, shared by both drivers (they differ only in how a
 * parameter is written: `?` or `$n`). The table is append-only like the journal's (APPEND_ONLY_TABLES).
 */
import { BallastError } from "../model/errors.js";
import type { AuditFilter, AuditRecord, StoredAuditRecord } from "./store.js";

export const AUDIT_COLUMNS = [
  "time",
  "principal",
  "access_key_id",
  "action",
  "resource",
  "source_ip",
  "request_id",
  "result",
  "ticket",
  "count",
  "break_glass",
] as const;

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 10_000;

/** One record as the row's values, in AUDIT_COLUMNS order. */
export function auditValues(r: AuditRecord): (string | number | null)[] {
  return [
    r.time,
    r.principal,
    r.accessKeyId ?? null,
    r.action,
    r.resource,
    r.sourceIp,
    r.requestId,
    r.result,
    r.ticket ?? null,
    r.count,
    r.breakGlass ?? null,
  ];
}

export interface AuditRow {
  readonly id: number | string;
  readonly time: string;
  readonly principal: string;
  readonly access_key_id: string | null;
  readonly action: string;
  readonly resource: string;
  readonly source_ip: string;
  readonly request_id: string;
  readonly result: string;
  readonly ticket: string | null;
  readonly count: number | string;
  readonly break_glass: string | null;
}

export function toAuditRecord(row: AuditRow): StoredAuditRecord {
  return {
    id: Number(row.id),
    time: row.time,
    principal: row.principal,
    ...(row.access_key_id === null ? {} : { accessKeyId: row.access_key_id }),
    action: row.action,
    resource: row.resource,
    sourceIp: row.source_ip,
    requestId: row.request_id,
    result: row.result,
    ...(row.ticket === null ? {} : { ticket: row.ticket }),
    count: Number(row.count),
    ...(row.break_glass === null ? {} : { breakGlass: row.break_glass }),
  };
}

/**
 * `SELECT … WHERE … ORDER BY id DESC LIMIT n` for a filter; `param(i)` writes the i-th (1-based)
 * placeholder. A principal filter matches the ARN, the bare user name or the access key id.
 */
export function auditQuery(
  table: string,
  filter: AuditFilter,
  param: (i: number) => string,
): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const p = (v: string | number): string => {
    params.push(v);
    return param(params.length);
  };
  if (filter.principal !== undefined) {
    const who = filter.principal;
    const arn = who.startsWith("arn:") ? who : `%:user/${who}`;
    where.push(`(principal = ${p(who)} OR principal LIKE ${p(arn)} OR access_key_id = ${p(who)})`);
  }
  if (filter.action !== undefined) {
    const a = filter.action.includes(":") ? filter.action : `%:${filter.action}`;
    where.push(`action LIKE ${p(a)}`);
  }
  if (filter.result !== undefined) where.push(`result = ${p(filter.result)}`);
  if (filter.since !== undefined) where.push(`time >= ${p(filter.since)}`);
  if (filter.before !== undefined) where.push(`id < ${p(filter.before)}`);
  if (filter.breakGlass === true) where.push("break_glass IS NOT NULL");
  const limit = filter.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT)
    throw new BallastError("ValidationError", `limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`);
  const sql =
    `SELECT id, ${AUDIT_COLUMNS.join(", ")} FROM ${table}` +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY id DESC LIMIT ${p(limit)}`;
  return { sql, params };
}
