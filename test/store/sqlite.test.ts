import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JOURNAL_TRIGGERS } from "../../src/store/sqlite/schema.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { storeConformance } from "./conformance.js";

const dir = mkdtempSync(join(tmpdir(), "ballast-sqlite-"));
const file = join(dir, "ballast.db");
storeConformance("sqlite", {
  open: async () => new SqliteStore(file),
  reopen: async () => new SqliteStore(file),
  rawSql: (store, sql) => store.rawSql(sql),
  dropGuard: async (store) => {
    for (const trigger of JOURNAL_TRIGGERS) await store.rawSql(`DROP TRIGGER IF EXISTS ${trigger}`);
  },
});
