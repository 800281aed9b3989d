/**
 * What the admin API's resource modules share: the JSON they answer with, the authenticated call
 * the handler gives them, and the parsing of a member path and of a JSON object body.
 */
import { BallastError } from "../../model/errors.js";
import type { Credential } from "../../model/types.js";
import type { RevisionMeta } from "../../store/store.js";

export const ADMIN_PREFIX = "/admin/v1";

export type Json = Readonly<Record<string, unknown>>;

/** One authenticated request to a resource module. */
export interface AdminCall {
  readonly method: string;
  /** The URL's path, without the query string. */
  readonly path: string;
  readonly body: Buffer;
  readonly credential: Credential;
  readonly meta: Omit<RevisionMeta, "action">;
  /** The region limits are read and set in: `?region=`, else the credential scope's. */
  readonly region: string;
  /** `?region=` when given: instances and subnets are listed for that region only. */
  readonly filterRegion: string | undefined;
  /** The break-glass reason when the call was made without a ticket (change-control.ts). */
  readonly breakGlass?: string;
}

/** Whether `path` is `collection` or below it. */
export function isBelow(path: string, collection: string): boolean {
  return path === collection || path.startsWith(`${collection}/`);
}

/** The decoded `{id}` below a collection; undefined for the collection itself. */
export function member(path: string, collection: string): string | undefined {
  const rest = path.slice(collection.length).replace(/^\/+/, "").replace(/\/+$/, "");
  if (rest === "") return undefined;
  if (rest.includes("/")) throw new BallastError("NotFound", `No such resource: ${path}`);
  try {
    return decodeURIComponent(rest);
  } catch {
    throw new BallastError("ValidationError", "The resource id is not valid percent-encoding");
  }
}

/** The request body as a JSON object; `shape` describes the expected one in the error. */
export function jsonObject(body: Buffer, shape: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BallastError("ValidationError", "The request body is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new BallastError("ValidationError", `The request body must be a JSON object ${shape}`);
  return doc as Record<string, unknown>;
}

/** A whole-number query parameter within [min, max]; undefined when absent. */
export function wholeParam(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max)
    throw new BallastError("InvalidParameterValue", `${name} must be a whole number from ${min} to ${max}`);
  return n;
}
