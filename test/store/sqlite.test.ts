import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
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

describe("sqlite agent statuses read by two connections", () => {
  it("a status written through one store is read through the other, and what is read is frozen", async () => {
    const shared = join(mkdtempSync(join(tmpdir(), "ballast-sqlite-status-")), "ballast.db");
    const a = new SqliteStore(shared);
    const b = new SqliteStore(shared);
    try {
      const status = {
        agentId: "agent-a",
        zone: "us-east-1a",
        configRevision: 1,
        nodes: [],
        health: [],
        unexplained: [],
        time: new Date().toISOString(),
      };
      await b.putAgentStatus(status);
      const first = await a.agentStatuses();
      assert.deepEqual(
        first.map((s) => s.configRevision),
        [1],
      );
      assert.equal(await a.agentStatuses(), first, "read again unchanged: the same parsed list");
      assert.throws(() => {
        (first[0] as { configRevision: number }).configRevision = 9;
      }, TypeError);
      await b.putAgentStatus({ ...status, configRevision: 2 });
      assert.deepEqual(
        (await a.agentStatuses()).map((s) => s.configRevision),
        [2],
      );
    } finally {
      a.close();
      b.close();
    }
  });
});
