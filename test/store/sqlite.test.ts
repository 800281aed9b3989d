import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { storeConformance } from "./conformance.js";

const dir = mkdtempSync(join(tmpdir(), "ballast-sqlite-"));
const file = join(dir, "ballast.db");
storeConformance("sqlite", {
  open: async () => new SqliteStore(file),
  reopen: async () => new SqliteStore(file),
});
