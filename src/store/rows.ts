/**
 * The journal's rows as both SQL drivers store them (same column names), and their mapping to
 * the Store interface's values. One place, so the two drivers cannot drift apart.
 */
import type { EntityKind, EntityTypes } from "../model/types.js";
import type { CompactionRecord, EntityVersion, Revision } from "./store.js";

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
