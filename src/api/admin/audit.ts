/**
 * The audit log through the admin API:
 *
 *   GET /admin/v1/audit?principal=&action=&result=&since=&limit=&before=  → { records, next? }
 *
 * `principal` is a user name, its ARN or an access key id; `action` an IAM action
 * (`elasticloadbalancing:CreateLoadBalancer`) or just its name; `result` `allowed`, `denied` or an
 * error code; `since` an ISO 8601 time; `limit` 1–10000 (default 100); `before` a record id, for
 * the next page. Newest first. What is still buffered is written first, so a call sees itself.
 */
import { BallastError } from "../../model/errors.js";
import type { AuditFilter, Store } from "../../store/store.js";
import type { AuditSink } from "../auth/audit-log.js";
import { ADMIN_PREFIX, type AdminCall, type Json, wholeParam } from "./common.js";

const AUDIT = `${ADMIN_PREFIX}/audit`;

export function isAuditPath(path: string): boolean {
  return path === AUDIT;
}

export function createAuditRoutes(opts: {
  readonly store: Store;
  readonly audit?: AuditSink;
}): (call: AdminCall, query: URLSearchParams) => Promise<Json> {
  return async (call, query) => {
    if (call.method !== "GET") throw new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
    const filter = parseFilter(query);
    await opts.audit?.flush();
    const records = await opts.store.audit(filter);
    const limit = filter.limit ?? 100;
    const last = records.at(-1);
    return { records, ...(records.length === limit && last !== undefined ? { next: last.id } : {}) };
  };
}

export function parseFilter(query: URLSearchParams): AuditFilter {
  const since = query.get("since");
  let sinceIso: string | undefined;
  if (since !== null) {
    const t = Date.parse(since);
    if (Number.isNaN(t))
      throw new BallastError("InvalidParameterValue", `since must be an ISO 8601 time, got ${since}`);
    sinceIso = new Date(t).toISOString();
  }
  const limit = wholeParam(query, "limit", 1, 10_000);
  const before = wholeParam(query, "before", 1, Number.MAX_SAFE_INTEGER);
  const text = (name: string): string | undefined => query.get(name) ?? undefined;
  const principal = text("principal");
  const action = text("action");
  const result = text("result");
  return {
    ...(principal === undefined ? {} : { principal }),
    ...(action === undefined ? {} : { action }),
    ...(result === undefined ? {} : { result }),
    ...(sinceIso === undefined ? {} : { since: sinceIso }),
    ...(limit === undefined ? {} : { limit }),
    ...(before === undefined ? {} : { before }),
  };
}
