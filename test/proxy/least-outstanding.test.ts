import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { describe, it } from "node:test";
import { leastOutstanding } from "../../src/proxy/balancer/least-outstanding.js";
import { BackendHealth } from "../../src/proxy/health/state.js";
import { HttpListener } from "../../src/proxy/http/listener.js";
import { ProxyMetrics } from "../../src/proxy/metrics.js";
import { PoolRegistry } from "../../src/proxy/pools.js";
import { silentLogger } from "../../src/util/logger.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import { balancerConformance } from "./balancer.conformance.js";
import { closeServer, fetchRaw, freePort, listen, portOf, waitFor } from "./helpers.js";
import { route } from "./raw-client.js";

balancerConformance("least outstanding", leastOutstanding);

describe("least outstanding balancer", () => {
  it("picks the InService target with the fewest outstanding requests", () => {
    const ts = [
      { id: "a", inService: true, outstanding: 3 },
      { id: "b", inService: true, outstanding: 1 },
      { id: "c", inService: false, outstanding: 0 },
      { id: "d", inService: true, outstanding: 2 },
    ];
    const b = leastOutstanding(ts);
    for (let i = 0; i < 5; i++) assert.equal(b.pick()?.id, "b");
    assert.equal(b.pick(ts[1])?.id, "d");
  });

  it("breaks ties round robin", () => {
    const ts = [
      { id: "a", inService: true, outstanding: 1 },
      { id: "b", inService: true, outstanding: 1 },
      { id: "c", inService: true, outstanding: 1 },
    ];
    const b = leastOutstanding(ts);
    assert.deepEqual(
      Array.from({ length: 6 }, () => b.pick()?.id),
      ["a", "b", "c", "a", "b", "c"],
    );
  });
});

/** Back ends on several loopback addresses sharing one port; each answers after its delay. */
async function delayedBackends(hosts: readonly string[], delays: readonly number[]): Promise<Server[]> {
  const make = (i: number): Server =>
    createServer((req, res) => {
      req.resume();
      setTimeout(() => res.end(`b${i}`), delays[i] ?? 0);
    });
  for (let attempt = 0; attempt < 5; attempt++) {
    const first = await listen(make(0), hosts[0]);
    const out = [first];
    try {
      for (let i = 1; i < hosts.length; i++) out.push(await listen(make(i), hosts[i], portOf(first)));
      return out;
    } catch {
      for (const s of out) await closeServer(s);
    }
  }
  throw new Error("no common free port for the back ends");
}

function inService(id: string, address: string): BackendHealth {
  const h = new BackendHealth(id, address);
  h.record(true, { healthyThreshold: 1, unhealthyThreshold: 1 });
  return h;
}

describe("HTTP listener with least outstanding requests", () => {
  const cleanups = cleanupsAfterAll();

  async function start(node: string, backends: readonly BackendHealth[], instancePort: number) {
    const pools = new PoolRegistry();
    const port = await freePort(node);
    const listener = new HttpListener({
      address: node,
      port,
      metrics: new ProxyMetrics().forListener("lb", 80),
      pools,
      balancer: leastOutstanding,
      log: silentLogger,
    });
    cleanups.push(async () => {
      await listener.close(100);
      await pools.closeAll(100);
    });
    route(listener, backends, instancePort);
    assert.equal(await listener.listen(), true);
    return { listener, port };
  }

  it("sends most of 40 concurrent requests to the fast back end, and releases every count", async () => {
    const node = "127.0.11.1";
    const servers = await delayedBackends(["127.0.0.1", "127.0.0.2"], [300, 0]);
    cleanups.push(async () => {
      for (const s of servers) await closeServer(s);
    });
    const instancePort = portOf(servers[0] as Server);
    const { listener, port } = await start(
      node,
      [inService("i-slow", "127.0.0.1"), inService("i-fast", "127.0.0.2")],
      instancePort,
    );

    const replies = await Promise.all(Array.from({ length: 40 }, () => fetchRaw(node, port, "/")));
    const bodies = replies.map((r) => {
      assert.equal(r.status, 200);
      return r.body.toString();
    });
    const slow = bodies.filter((b) => b === "b0").length;
    const fast = bodies.filter((b) => b === "b1").length;
    assert.equal(slow + fast, 40);
    assert.ok(fast >= 30, `fast back end got ${fast} of 40 (slow ${slow})`);

    await waitFor("exchanges finished", () => listener.inFlight === 0);
    assert.deepEqual(listener.outstanding(), [0, 0]);
    // A table swap keeps the counts (still 0) and the balancing.
    route(listener, [inService("i-slow", "127.0.0.1"), inService("i-fast", "127.0.0.2")], instancePort);
    assert.deepEqual(listener.outstanding(), [0, 0]);
  });

  it("releases the first target's count when the retry moves to another back end", async () => {
    const node = "127.0.11.2";
    // 127.0.0.3 has nothing on the port: connection refused, then the one retry.
    const servers = await delayedBackends(["127.0.0.4"], [0]);
    cleanups.push(async () => {
      for (const s of servers) await closeServer(s);
    });
    const { listener, port } = await start(
      node,
      [inService("i-dead", "127.0.0.3"), inService("i-live", "127.0.0.4")],
      portOf(servers[0] as Server),
    );
    for (let i = 0; i < 4; i++) {
      const r = await fetchRaw(node, port, "/");
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), "b0");
    }
    assert.ok(listener.metrics.backendConnectionErrors > 0, "the dead back end was tried");
    await waitFor("exchanges finished", () => listener.inFlight === 0);
    assert.deepEqual(listener.outstanding(), [0, 0]);
  });
});
