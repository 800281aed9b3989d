/** Client-neutral JSON values: what every client's answer is normalised to before a case looks at it. */
import assert from "node:assert/strict";

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };
export type JsonObject = { readonly [key: string]: Json };

/** Per-client response metadata that is not part of the modelled output. */
const METADATA_KEYS = new Set(["$metadata", "ResponseMetadata"]);

/**
 * Dates become ISO strings, `undefined` members disappear, response metadata is dropped, so the
 * SDK (Date objects), boto3 (ISO strings from datetime) and the CLI (JSON text) compare alike.
 */
export function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return value;
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || METADATA_KEYS.has(k)) continue;
      out[k] = toJson(v);
    }
    return out;
  }
  return String(value);
}

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at a path of member names and list indexes, or undefined. */
export function at(root: Json | undefined, ...path: readonly (string | number)[]): Json | undefined {
  let cur: Json | undefined = root;
  for (const step of path) {
    if (typeof step === "number") cur = Array.isArray(cur) ? (cur as readonly Json[])[step] : undefined;
    else cur = isObject(cur) ? cur[step] : undefined;
  }
  return cur;
}

/** A list member; an absent list reads as [] (the SDK leaves empty XML lists out, boto3 gives []). */
export function list(root: Json | undefined, ...path: readonly (string | number)[]): readonly Json[] {
  const v = at(root, ...path);
  if (v === undefined || v === null) return [];
  assert.ok(Array.isArray(v), `${path.join(".")} should be a list, got ${JSON.stringify(v)}`);
  return v as readonly Json[];
}

export function str(root: Json | undefined, ...path: readonly (string | number)[]): string {
  const v = at(root, ...path);
  assert.equal(typeof v, "string", `${path.join(".")} should be a string, got ${JSON.stringify(v)}`);
  return v as string;
}

export function num(root: Json | undefined, ...path: readonly (string | number)[]): number {
  const v = at(root, ...path);
  assert.equal(typeof v, "number", `${path.join(".")} should be a number, got ${JSON.stringify(v)}`);
  return v as number;
}
