/**
 * Version skew across delta documents, both ways, on real servers and a real SQLite store:
 *   - an agent of the version before deltas (its poll does not ask for one) gets full documents
 *     from a control plane that has them;
 *   - an agent that asks for deltas, against a control plane that answers full documents (as one
 *     of the version before does), applies each as ever: creations, changes and removals.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { ConfigClient } from "../../src/agent/config-client.js";
import { LKG_LOG_FILE } from "../../src/agent/last-known-good.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { LoadBalancer } from "../../src/model/types.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { silentLogger } from "../../src/util/logger.js";
import { waitFor } from "../proxy/helpers.js";
import { aLoadBalancer, meta } from "../support/builders.js";

const ZONE = "us-east-1a";

/** A load balancer with no listener: nothing binds, the agent still runs its node. */
const quiet = (name: string, over: Partial<LoadBalancer> = {}) =>
  aLoadBalancer({ name, availabilityZones: [ZONE], listeners: [], ...over });

async function put(store: Store, lb: LoadBalancer): Promise<number> {
  const r = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", lb.name, lb);
  });
  return r.revision?.number ?? 0;
}

function serverFor(deltas: boolean) {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-skew-")), "b.db"));
  const channel = new AgentChannel({ store, token: "t", zones: [ZONE], logger: silentLogger, deltas });
  return { store, channel };
}

describe("version skew: an agent of the version before deltas", () => {
  const { store, channel } = serverFor(true);
  let base = "";
  before(async () => {
    base = `http://127.0.0.1:${await channel.listen(0)}`;
  });
  after(async () => {
    await channel.close();
    store.close();
  });

  it("gets the full document on every change; an agent that asks gets the delta", async () => {
    await put(store, quiet("a"));
    await put(store, quiet("b"));
    const have = await store.head();
    await put(store, quiet("b", { instances: ["127.0.9.1"] }));
    const abort = new AbortController();
    const old = new ConfigClient({ controlUrls: [base], token: "t", zone: ZONE });
    const full = await old.poll(have, 0, abort.signal);
    assert.equal(full.kind, "config");
    if (full.kind !== "config") return;
    assert.equal(full.config.delta, undefined);
    assert.deepEqual(
      full.config.loadBalancers.map((l) => l.name),
      ["a", "b"],
    );
    const delta = await old.poll(have, 0, abort.signal, true);
    assert.ok(delta.kind === "config" && delta.config.delta?.from === have);
    assert.deepEqual(delta.kind === "config" ? delta.config.loadBalancers.map((l) => l.name) : [], ["b"]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^ballast_agent_channel_documents_total\{kind="delta"\} 1$/m);
    assert.match(metrics, /^ballast_agent_channel_documents_total\{kind="full"\} 1$/m);
  });
});

describe("version skew: an agent that asks for deltas, against a control plane that answers full documents", () => {
  const { store, channel } = serverFor(false);
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-skew-agent-"));
  let agent: Agent;
  before(async () => {
    const port = await channel.listen(0);
    agent = new Agent({
      agentId: "skew",
      zone: ZONE,
      pool: "127.0.18.0/29",
      dataDir,
      controlUrls: [`http://127.0.0.1:${port}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 5,
      statusIntervalMs: 200,
    });
    await agent.start();
  });
  after(async () => {
    await agent.stop(0);
    await channel.close();
    store.close();
  });

  it("applies each full document as ever: creations, changes and an explicit removal", async () => {
    await put(store, quiet("a"));
    await put(store, quiet("b"));
    const names = () => agent.status().nodes.map((n) => n.loadBalancer);
    await waitFor("a and b", () => names().join() === "a,b");
    await put(store, quiet("c"));
    await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "a");
    });
    const head = await store.head();
    await waitFor("the last revision", () => agent.revision === head);
    assert.deepEqual(names(), ["b", "c"]);
    assert.deepEqual(agent.status().unexplained, []);
    assert.equal(existsSync(join(dataDir, LKG_LOG_FILE)), false, "full documents are written as snapshots");
  });
});
