/**
 * The journal's rows as both SQL drivers store them (same column names), and their mapping to
 * the Store interface's values. One place, so the two drivers cannot drift apart.
 */
import type { EntityKind, EntityTypes } from "../model/types.js";
import { stateDigest } from "./journal.js";
import type { DocCodec } from "./secrets/codec.js";
import type {
  CompactionRecord,
  Current,
  EntityDifference,
  EntityVersion,
  Revision,
  RevisionMeta,
} from "./store.js";

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

export interface CurrentRow {
  revision: number;
  doc: string;
}

/** One entity of `MutationTx.differencesFrom`: its document then (as of `at`) and now, as stored. */
export interface DifferenceRow {
  kind: string;
  key: string;
  past_doc: string | null;
  now_doc: string | null;
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

export const REVISION_COLUMNS =
  "number, time, principal, source_ip, request_id, action, ticket, prev_hash, hash";

/** A revision's values in the order of REVISION_COLUMNS. */
export function revisionValues(r: Revision): (string | number | null)[] {
  return [
    r.number,
    r.time,
    r.principal,
    r.sourceIp,
    r.requestId,
    r.action,
    r.ticket ?? null,
    r.prevHash,
    r.hash,
  ];
}

export function toCurrent<K extends EntityKind>(
  row: CurrentRow & { key: string },
  kind: K,
  codec: DocCodec,
): Current<K> {
  return { revision: row.revision, doc: codec.decode(kind, row.key, row.doc) };
}

/** The entity as a version left it: undefined for no version or a tombstone. */
export function toCurrentAt<K extends EntityKind>(
  row: { key: string; revision: number; doc: string | null } | undefined,
  kind: K,
  codec: DocCodec,
): Current<K> | undefined {
  if (!row || row.doc === null) return undefined;
  return { revision: row.revision, doc: codec.decode(kind, row.key, row.doc) };
}

export function toDifference(row: DifferenceRow, codec: DocCodec): EntityDifference {
  const kind = row.kind as EntityKind;
  return {
    kind,
    key: row.key,
    past: row.past_doc === null ? undefined : codec.decode(kind, row.key, row.past_doc),
    now: row.now_doc === null ? undefined : codec.decode(kind, row.key, row.now_doc),
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

export function toVersion(row: VersionRow, codec: DocCodec): EntityVersion {
  const kind = row.kind as EntityKind;
  return {
    kind,
    key: row.key,
    revision: row.revision,
    doc: row.doc === null ? null : (codec.decode(kind, row.key, row.doc) as EntityTypes[EntityKind]),
  };
}

/**
 * The digest of a state read as version rows (tombstones are absences, not entries), over the
 * plain documents: the same digest `verifyJournal` recomputes from the store's decoded reads.
 */
export function versionsDigest(rows: readonly VersionRow[], codec: DocCodec): string {
  return stateDigest(
    rows
      .filter((r) => r.doc !== null)
      .map((r) => ({
        kind: r.kind,
        key: r.key,
        revision: r.revision,
        doc: codec.decode(r.kind as EntityKind, r.key, r.doc as string),
      })),
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
