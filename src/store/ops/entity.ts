/**
 * What the operations need to know about entities beyond the Store interface: the key each kind
 * is stored under (`list()` returns documents without keys) and when two documents are equal.
 */
import type { EntityKind, EntityTypes } from "../../model/types.js";

export { entityKey } from "../../model/types.js";

import { canonicalJson } from "../journal.js";

export type AnyDoc = EntityTypes[EntityKind];

/** Equal documents, whatever order their keys were written in. */
export function docsEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  // Documents read back from one driver usually keep their key order, so the cheap form mostly decides.
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  return canonicalJson(a) === canonicalJson(b);
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
