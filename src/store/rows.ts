/**
 * The journal's rows as both SQL drivers store them (same column names), and their mapping to
 * the Store interface's values. One place, so the two drivers cannot drift apart.
 */
import type { EntityKind, EntityTypes } from "../model/types.js";
import { stateDigest } from "./journal.js";
import type { CompactionRecord, EntityVersion, Revision, RevisionMeta } from "./store.js";

export interface RevisionRow {
  number: number;
  time: string;
  principal: string;
  source_ip: string;
  request_id: string;
  action: string;
  ticket: string | null;
  prev_hash: string;
  hash: string;
}

export interface VersionRow {
  kind: string;
  key: string;
  revision: number;
  doc: string | null;
}

export interface CompactionRow {
  through: number;
  time: string;
  principal: string;
  source_ip: string;
  request_id: string;
  ticket: string | null;
  versions_removed: number;
  through_hash: string;
  state_hash: string;
}

export function toRevision(row: RevisionRow): Revision {
  return {
    number: row.number,
    time: row.time,
    principal: row.principal,
    sourceIp: row.source_ip,
    requestId: row.request_id,
    action: row.action,
    ...(row.ticket === null ? {} : { ticket: row.ticket }),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function toCompaction(row: CompactionRow): CompactionRecord {
  return {
    through: row.through,
    time: row.time,
    principal: row.principal,
    sourceIp: row.source_ip,
    requestId: row.request_id,
    ...(row.ticket === null ? {} : { ticket: row.ticket }),
    versionsRemoved: row.versions_removed,
    throughHash: row.through_hash,
    stateHash: row.state_hash,
  };
}

export function toVersion(row: VersionRow): EntityVersion {
  return {
    kind: row.kind as EntityKind,
    key: row.key,
    revision: row.revision,
    doc: row.doc === null ? null : (JSON.parse(row.doc) as EntityTypes[EntityKind]),
  };
}

/** The digest of a state read as version rows (tombstones are absences, not entries). */
export function versionsDigest(rows: readonly VersionRow[]): string {
  return stateDigest(
    rows
      .filter((r) => r.doc !== null)
      .map((r) => ({ kind: r.kind, key: r.key, revision: r.revision, doc: JSON.parse(r.doc as string) })),
  );
}

export const COMPACTION_COLUMNS =
  "through, time, principal, source_ip, request_id, ticket, versions_removed, through_hash, state_hash";

export function newCompaction(
  through: number,
  meta: RevisionMeta,
  versionsRemoved: number,
  throughHash: string,
  stateHash: string,
): CompactionRecord {
  return {
    through,
    time: new Date().toISOString(),
    principal: meta.principal,
    sourceIp: meta.sourceIp,
    requestId: meta.requestId,
    ...(meta.ticket === undefined ? {} : { ticket: meta.ticket }),
    versionsRemoved,
    throughHash,
    stateHash,
  };
}

/** A record's values in the order of COMPACTION_COLUMNS. */
export function compactionValues(r: CompactionRecord): (string | number | null)[] {
  return [
    r.through,
    r.time,
    r.principal,
    r.sourceIp,
    r.requestId,
    r.ticket ?? null,
    r.versionsRemoved,
    r.throughHash,
    r.stateHash,
  ];
}
