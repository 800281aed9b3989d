import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { freePort, waitFor } from "../proxy/helpers.js";
import { aLoadBalancer, meta } from "../support/builders.js";

describe("an agent given several control-plane endpoints", () => {
  it("moves past one that does not answer to the next, and follows it", async () => {
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-endpoints-")), "b.db"));
    const channel = new AgentChannel({ store, token: "t", zones: ["us-east-1a"], logger: silentLogger });
    const live = `http://127.0.0.1:${await channel.listen(0)}`;
    const dead = `http://127.0.0.1:${await freePort("127.0.0.1")}`;
    const agent = new Agent({
      agentId: "two-endpoints",
      zone: "us-east-1a",
      pool: "127.0.18.0/24",
      dataDir: mkdtempSync(join(tmpdir(), "ballast-endpoints-agent-")),
      controlUrls: [dead, live],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
    });
    after(async () => {
      await agent.stop();
      await channel.close();
      store.close();
    });
    const r = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put(
        "loadBalancer",
        "web",
        aLoadBalancer({ name: "web", listeners: [], availabilityZones: ["us-east-1a"] }),
      );
    });
    await agent.start();
    await waitFor(
      "the agent to follow the live endpoint",
      () => agent.revision === r.revision?.number,
      10_000,
    );
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["web"],
    );
    await waitFor("its status to reach the live control plane", () => false, 1).catch(() => undefined);
    assert.equal(
      (await store.agentStatuses()).some((s) => s.agentId === "two-endpoints"),
      true,
    );
  });
});
