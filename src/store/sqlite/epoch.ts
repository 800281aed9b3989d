/**
 * A new journal epoch in SQLite (Store.startEpoch): one IMMEDIATE transaction copies the journal's
 * rows into `<table>_epoch<k>` evidence tables, lifts the append-only triggers for that transaction
 * only (dropped, then created again from SCHEMA before it commits), empties the journal and the
 * current state, and writes the repaired state as the first revision of a fresh chain.
 */
import type Database from "better-sqlite3";
import type { PendingChange } from "../journal.js";
import { effectiveWrites, nextRevision } from "../journal-tx.js";
import { REVISION_COLUMNS, revisionValues } from "../rows.js";
import type { DocCodec } from "../secrets/codec.js";
import type { EpochResult, EpochStart } from "../store.js";
import { JOURNAL_TRIGGERS, SCHEMA } from "./schema.js";

/** The tables a new epoch moves aside, children before the revisions they reference. */
export const EPOCH_TABLES = ["compactions", "versions", "current", "revisions"] as const;

export function startEpoch(db: Database.Database, start: EpochStart, codec: DocCodec): EpochResult {
  const txn = db.transaction((): EpochResult => {
    const exists = db.prepare<[string], { n: number }>(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
    );
    let k = 1;
    while ((exists.get(`revisions_epoch${k}`)?.n ?? 0) > 0) k++;
    const evidence: string[] = [];
    for (const t of EPOCH_TABLES) {
      db.exec(`CREATE TABLE ${t}_epoch${k} AS SELECT * FROM ${t}`);
      evidence.push(`${t}_epoch${k}`);
    }
    for (const trigger of JOURNAL_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
    for (const t of EPOCH_TABLES) db.exec(`DELETE FROM ${t}`);
    db.exec(SCHEMA);
    const writes: PendingChange[] = start.entities.map((e) => ({ kind: e.kind, key: e.key, doc: e.doc }));
    const { changes, texts } = effectiveWrites(writes, () => undefined, codec);
    const revision = nextRevision({ number: start.number - 1, hash: start.anchor }, start.meta, changes);
    db.prepare(`INSERT INTO revisions (${REVISION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      ...revisionValues(revision),
    );
    const version = db.prepare("INSERT INTO versions (kind, key, revision, doc) VALUES (?, ?, ?, ?)");
    const current = db.prepare("INSERT INTO current (kind, key, revision, doc) VALUES (?, ?, ?, ?)");
    changes.forEach((c, i) => {
      const text = texts[i] ?? null;
      version.run(c.kind, c.key, revision.number, text);
      if (text !== null) current.run(c.kind, c.key, revision.number, text);
    });
    return { revision, evidence };
  });
  return txn.immediate();
}
