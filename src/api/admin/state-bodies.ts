/**
 * The JSON bodies of the state routes that change state. Parsed strictly: an unknown field is an
 * error, so a typo cannot turn a narrow restore or compaction into a wide one.
 */
import { BallastError } from "../../model/errors.js";

export interface RestoreBody {
  readonly to: number | string;
  readonly loadBalancers?: readonly string[];
  readonly includeCredentials?: boolean;
  readonly allowEmpty?: boolean;
}

const RESTORE_FIELDS = new Set(["to", "loadBalancers", "includeCredentials", "allowEmpty"]);

/** Strict: a misspelt `loadBalancers` must not silently widen a restore to everything. */
export function parseRestoreBody(body: Buffer): RestoreBody {
  const o = strictObject(body, RESTORE_FIELDS, "{to, loadBalancers?, …}");
  let to: number | string;
  if (typeof o.to === "number") to = o.to;
  else if (typeof o.to === "string" && /^\d+$/.test(o.to.trim())) to = Number(o.to.trim());
  else if (typeof o.to === "string" && !Number.isNaN(Date.parse(o.to))) to = o.to;
  else throw new BallastError("ValidationError", "to must be a revision number or an ISO 8601 time");
  const lbs = o.loadBalancers;
  if (lbs !== undefined && (!Array.isArray(lbs) || !lbs.every((n) => typeof n === "string" && n !== "")))
    throw new BallastError("ValidationError", "loadBalancers must be a list of load balancer names");
  for (const f of ["includeCredentials", "allowEmpty"] as const)
    if (o[f] !== undefined && typeof o[f] !== "boolean")
      throw new BallastError("ValidationError", `${f} must be true or false`);
  return {
    to,
    ...(lbs === undefined ? {} : { loadBalancers: lbs as string[] }),
    ...(o.includeCredentials === undefined ? {} : { includeCredentials: o.includeCredentials as boolean }),
    ...(o.allowEmpty === undefined ? {} : { allowEmpty: o.allowEmpty as boolean }),
  };
}

const COMPACT_FIELDS = new Set(["through", "olderThanDays", "ticket"]);

export interface CompactBody {
  readonly through?: number;
  readonly olderThanDays?: number;
  readonly ticket: string;
}

/** Strict like the restore body: a misspelt field must not turn into a different purge. */
export function parseCompactBody(body: Buffer): CompactBody {
  const o = strictObject(body, COMPACT_FIELDS, "{through | olderThanDays, ticket}");
  for (const f of ["through", "olderThanDays"] as const)
    if (o[f] !== undefined && typeof o[f] !== "number")
      throw new BallastError("ValidationError", `${f} must be a number`);
  if (o.ticket !== undefined && typeof o.ticket !== "string")
    throw new BallastError("ValidationError", "ticket must be a change ticket id (a string)");
  return {
    ticket: (o.ticket as string | undefined) ?? "",
    ...(o.through === undefined ? {} : { through: o.through as number }),
    ...(o.olderThanDays === undefined ? {} : { olderThanDays: o.olderThanDays as number }),
  };
}

function strictObject(body: Buffer, allowed: ReadonlySet<string>, shape: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BallastError("ValidationError", "The request body is not valid JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new BallastError("ValidationError", `The request body must be a JSON object ${shape}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!allowed.has(k))
      throw new BallastError("ValidationError", `Unknown field '${k}'; expected ${[...allowed].join(", ")}`);
  return o;
}
