/**
 * Regression: with per-agent documents, another agent of the zone whose document at the same
 * revision removes nothing used to end a hold the first agent was still under.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ChangeGuard } from "../../src/controller/guard.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";

const ZONE = "us-east-1a";

describe("guard holds with per-agent documents", () => {
  it("a hold lasts until the held change passes or a newer revision comes, not when a sibling's empty document passes", async () => {
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-guard-agent-")), "b.db"));
    try {
      const guard = new ChangeGuard({ store, logger: silentLogger });
      const removals = Array.from({ length: 30 }, (_, i) => ({
        kind: "loadBalancer" as const,
        loadBalancer: `lb-${i}`,
        key: `lb-${i}`,
        revision: 7,
      }));
      const held: AgentConfig = { format: 2, revision: 7, zone: ZONE, loadBalancers: [], removals };
      const sibling: AgentConfig = { format: 2, revision: 7, zone: ZONE, loadBalancers: [], removals: [] };
      assert.equal(await guard.check(held, 5), null);
      assert.equal(guard.holds().length, 1);
      assert.notEqual(await guard.check(sibling, 6), null, "the sibling's document goes out");
      assert.equal(guard.holds().length, 1, "the hold stands");
      assert.notEqual(await guard.check({ ...sibling, revision: 8 }, 7), null);
      assert.equal(guard.holds().length, 0, "a newer revision ends it (the held agent is checked again)");
    } finally {
      store.close();
    }
  });
});
