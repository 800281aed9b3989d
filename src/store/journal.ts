/**
 * Driver-independent journal rules: the revision hash chain and change normalisation. Both
 * drivers call these, so the chain a SQLite store writes verifies the same on PostgreSQL.
 */
import { createHash } from "node:crypto";
import { BallastError } from "../model/errors.js";
import type { EntityKind, EntityTypes } from "../model/types.js";
import type { RevisionMeta } from "./store.js";

export const GENESIS_HASH = "0".repeat(64);

export interface PendingChange {
  readonly kind: EntityKind;
  readonly key: string;
  readonly doc: EntityTypes[EntityKind] | null;
}

/** JSON with object keys sorted, so equal documents always serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

export function revisionHash(
  prevHash: string,
  number: number,
  time: string,
  meta: RevisionMeta,
  changes: readonly PendingChange[],
): string {
  const body = canonicalJson({
    number,
    time,
    principal: meta.principal,
    sourceIp: meta.sourceIp,
    requestId: meta.requestId,
    action: meta.action,
    ticket: meta.ticket ?? null,
    // Sorted, so the hash does not depend on the order a driver returns the changes in.
    changes: changes
      .map((c) => [c.kind, c.key, c.doc] as const)
      .sort((a, b) => (a[0] === b[0] ? cmp(a[1], b[1]) : cmp(a[0], b[0]))),
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

/** One live entity of a whole state, with the revision that last wrote it. */
export interface DigestEntry {
  readonly kind: string;
  readonly key: string;
  readonly revision: number;
  readonly doc: unknown;
}

/**
 * sha256 over a whole state (live entities only), independent of driver, row order and document
 * key order. A compaction records it for the state it keeps; `verifyJournal` recomputes it.
 */
export function stateDigest(entries: Iterable<DigestEntry>): string {
  const sorted = [...entries].sort((a, b) => (a.kind === b.kind ? cmp(a.key, b.key) : cmp(a.kind, b.kind)));
  const hash = createHash("sha256");
  for (const e of sorted) hash.update(canonicalJson([e.kind, e.key, e.revision, e.doc])).update("\n");
  return hash.digest("hex");
}

/** The message for a read below the compacted revision, the same from the drivers and the ops. */
export function compactedMessage(revision: number, compactedThrough: number): string {
  return `revision ${revision} was compacted (history is kept from revision ${compactedThrough})`;
}

/** Refuses a read at a revision below the compacted one: the journal no longer knows that state. */
export function assertKept(revision: number, compactedThrough: number): void {
  if (revision < compactedThrough) {
    throw new BallastError("ValidationError", compactedMessage(revision, compactedThrough));
  }
}

/** Keeps only the last write per entity, in first-write order. */
export function collapseWrites(writes: readonly PendingChange[]): PendingChange[] {
  const byId = new Map<string, PendingChange>();
  for (const w of writes) {
    const id = `${w.kind}\u0000${w.key}`;
    byId.delete(id);
    byId.set(id, w);
  }
  return [...byId.values()];
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The tables that only ever grow: the database refuses UPDATE and DELETE on them (both drivers'
 * schema.ts), except DELETE of superseded versions inside a compaction's own transaction.
 */
export const APPEND_ONLY_TABLES = [
  "revisions",
  "versions",
  "compactions",
  "audit",
  "ticket_events",
  "guard_decisions",
] as const;

/**
 * The database's refusal, word for word the same from both drivers' triggers (PostgreSQL's fills
 * in the operation and table at run time: it is called with "%" placeholders).
 */
export function appendOnlyMessage(op: string, table: string): string {
  return `the journal is append-only: ${op} on ${table} refused (only a compaction removes history)`;
}
