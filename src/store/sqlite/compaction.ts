/**
 * Compaction of the SQLite journal through one revision, inside the caller's transaction: the
 * superseded versions go, the state at that revision is proven unchanged by its digest, and the
 * compaction is recorded.
 */
import type Database from "better-sqlite3";
import { BallastError } from "../../model/errors.js";
import {
  COMPACTION_COLUMNS,
  compactionValues,
  newCompaction,
  type VersionRow,
  versionsDigest,
} from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { CompactionRecord, RevisionMeta } from "../store.js";
import { COMPACT_SQL, STATE_AT_SQL } from "./schema.js";

export function compactThrough(
  db: Database.Database,
  through: number,
  meta: RevisionMeta,
  codec: DocCodec,
): CompactionRecord | undefined {
  // Read inside the transaction: another process may have written since the caller looked.
  const head = db.prepare<[], number>("SELECT coalesce(max(number), 0) FROM revisions").pluck().get() ?? 0;
  const compactedThrough =
    db.prepare<[], number>("SELECT coalesce(max(through), 0) FROM compactions").pluck().get() ?? 0;
  if (!Number.isSafeInteger(through) || through < 1 || through > head) {
    throw new BallastError(
      "ValidationError",
      `cannot compact through revision ${through}: the journal holds revisions 1 to ${head}`,
    );
  }
  if (through <= compactedThrough) return undefined;
  const digest = (): string =>
    versionsDigest(db.prepare<[{ c: number }], VersionRow>(STATE_AT_SQL).all({ c: through }), codec);
  const stateHash = digest();
  // Lifts the journal's delete guard (schema.ts) for this transaction only: the row is removed
  // before the commit, and a failure rolls it back with everything else.
  db.prepare("INSERT INTO compaction_in_progress (through) VALUES (?)").run(through);
  const removed = db.prepare(COMPACT_SQL).run({ c: through }).changes;
  db.prepare("DELETE FROM compaction_in_progress").run();
  // The promise of a compaction, checked before it commits: the state at `through` is unchanged.
  if (digest() !== stateHash) {
    throw new BallastError(
      "InternalFailure",
      `compaction through revision ${through} would change its state`,
    );
  }
  const throughHash = db
    .prepare<[number], string>("SELECT hash FROM revisions WHERE number = ?")
    .pluck()
    .get(through) as string;
  const record = newCompaction(through, meta, removed, throughHash, stateHash);
  db.prepare(`INSERT INTO compactions (${COMPACTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
    ...compactionValues(record),
  );
  return record;
}
