/** Shared helpers for the journal operation tests: temp SQLite stores and state comparison. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Credential, EntityKind } from "../../../src/model/types.js";
import { canonicalJson } from "../../../src/store/journal.js";
import { type State, stateEntries } from "../../../src/store/ops/snapshot.js";
import { DocCodec } from "../../../src/store/secrets/codec.js";
import { JOURNAL_TRIGGERS } from "../../../src/store/sqlite/schema.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { SecretKey } from "../../../src/util/secret-key.js";

export interface TempStore {
  readonly store: SqliteStore;
  readonly dir: string;
  readonly file: string;
  cleanup(): Promise<void>;
}

export function tempDir(prefix = "ballast-ops-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The secret key temp stores share, as control planes restoring each other's exports must. */
export const SHARED_TEST_KEY = SecretKey.generate("test key");

export async function openTempStore(
  name = "ballast.db",
  key: SecretKey = SHARED_TEST_KEY,
): Promise<TempStore> {
  const dir = tempDir();
  const file = join(dir, name);
  const store = new SqliteStore(file, { codec: new DocCodec(key) });
  return {
    store,
    dir,
    file,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A state's entities in canonical form, for deepEqual-free comparison with a readable diff. */
export function stateForm(state: State, kinds?: readonly EntityKind[]): string {
  return canonicalJson(stateEntries(state, kinds));
}

export function aCredential(overrides: Partial<Credential> = {}): Credential {
  return {
    accessKeyId: "AKIAEXAMPLE0000001",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    principal: "alice",
    role: "admin",
    createdTime: "2026-11-23T00:00:00.000Z",
    ...overrides,
  };
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A second connection to a store's file with the journal's guard triggers dropped: what anyone
 * with write access to the file can do, and what `verifyJournal` must still catch. (The next
 * `new SqliteStore` on the file puts the triggers back.)
 */
export function unguardedConnection(file: string): Database.Database {
  const db = new Database(file);
  for (const trigger of JOURNAL_TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
  return db;
}
