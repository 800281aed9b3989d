import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import { describe, it } from "node:test";
import { roundRobin } from "../../src/proxy/balancer/round-robin.js";
import { BackendHealth } from "../../src/proxy/health/state.js";
import { HttpListener } from "../../src/proxy/http/listener.js";
import { ProxyMetrics } from "../../src/proxy/metrics.js";
import { PoolRegistry } from "../../src/proxy/pools.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  type EchoBackend,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  listen,
  portOf,
  waitFor,
} from "./helpers.js";
import { route } from "./raw-client.js";

const cleanups = cleanupsAfterAll();

async function setup(node: string, hosts = ["127.0.0.1", "127.0.0.2"]) {
  const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
  const backends = await echoBackends(hosts);
  cleanups.push(async () => {
    await runtime.close();
    for (const b of backends) await closeServer(b.server);
  });
  const bp = backends[0]?.port ?? 0;
  const port = await freePort(node);
  return { runtime, backends, bp, port };
}

function spec(
  name: string,
  port: number,
  bp: number,
  ids: string[],
  hc = fastHealthCheck(`HTTP:${bp}/health`),
) {
  return lbSpec(
    name,
    [httpListener(port, bp)],
    ids.map((id) => backend(id, id === "i-a" ? "127.0.0.1" : "127.0.0.2")),
    hc,
  );
}

async function bodies(host: string, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await fetchRaw(host, port, "/")).body.toString());
  return out;
}

describe("ProxyRuntime", () => {
  it("a stopped back end goes OutOfService after unhealthyThreshold failed checks; traffic goes to the other", async () => {
    const node = "127.0.10.1";
    const { runtime, backends, bp, port } = await setup(node);
    let changes = 0;
    runtime.onHealthChange(() => changes++);
    await runtime.apply(resolved([{ address: node, spec: spec("lb", port, bp, ["i-a", "i-b"]) }]));
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    await waitFor("health change reported", () => changes > 0);
    await closeServer((backends[1] as EchoBackend).server);
    await waitFor("i-b OutOfService", () =>
      runtime.health().some((h) => h.instanceId === "i-b" && h.state === "OutOfService"),
    );
    const b = runtime.health().find((h) => h.instanceId === "i-b");
    assert.equal(b?.reasonCode, "Instance");
    assert.match(b?.description ?? "", /UnhealthyThreshold/);
    assert.deepEqual(await bodies(node, port, 4), ["b0", "b0", "b0", "b0"]);
  });

  it("an HTTP check answered with a non-200 status counts as a failure", async () => {
    const node = "127.0.10.2";
    let status = 200;
    const hs = createServer((_q, r) => {
      r.statusCode = status;
      r.end();
    });
    await listen(hs, "127.0.0.1");
    cleanups.push(() => closeServer(hs));
    const { runtime, bp, port } = await setup(node, ["127.0.0.1"]);
    const hc = fastHealthCheck(`HTTP:${portOf(hs)}/ping`);
    await runtime.apply(resolved([{ address: node, spec: spec("lb", port, bp, ["i-a"], hc) }]));
    await waitFor("InService", () => runtime.health()[0]?.state === "InService");
    status = 302;
    await waitFor("OutOfService", () => runtime.health()[0]?.state === "OutOfService");
    assert.equal((await fetchRaw(node, port, "/")).status, 503);
  });

  it("re-apply with a removed back end stops traffic to it; applying the same set twice keeps health", async () => {
    const node = "127.0.10.3";
    const { runtime, bp, port } = await setup(node);
    const hc = fastHealthCheck(`HTTP:${bp}/health`, { interval: 60 });
    const both = [{ address: node, spec: spec("lb", port, bp, ["i-a", "i-b"], hc) }];
    await runtime.apply(resolved(both));
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    // Interval 60 s: had the state been reset, it would stay "registering" for the whole test.
    await runtime.apply(resolved(both));
    assert.ok(
      runtime.health().every((h) => h.state === "InService"),
      "unchanged back ends keep their health",
    );
    assert.deepEqual((await bodies(node, port, 2)).sort(), ["b0", "b1"]);
    await runtime.apply(resolved([{ address: node, spec: spec("lb", port, bp, ["i-a"], hc) }]));
    assert.deepEqual(
      runtime.health().map((h) => h.instanceId),
      ["i-a"],
    );
    assert.equal(runtime.health()[0]?.state, "InService");
    assert.deepEqual(await bodies(node, port, 4), ["b0", "b0", "b0", "b0"]);
  });

  it("re-apply with a load balancer removed closes its listener; in-flight requests complete", async () => {
    const node = "127.0.10.4";
    const { runtime, bp, port } = await setup(node);
    const port2 = await freePort(node);
    await runtime.apply(
      resolved([
        { address: node, spec: spec("gone", port, bp, ["i-a"]) },
        { address: node, spec: spec("stays", port2, bp, ["i-b"]) },
      ]),
    );
    await waitFor("InService", () => runtime.health().every((h) => h.state === "InService"));
    const slowOnGone = fetchRaw(node, port, "/slow/300");
    const slowOnStays = fetchRaw(node, port2, "/slow/300");
    await new Promise((r) => setTimeout(r, 100));
    await runtime.apply(resolved([{ address: node, spec: spec("stays", port2, bp, ["i-b"]) }]));
    assert.deepEqual(
      runtime.nodes().map((n) => n.loadBalancer),
      ["stays"],
    );
    await assert.rejects(fetchRaw(node, port, "/"), { code: "ECONNREFUSED" });
    assert.equal((await slowOnGone).body.toString(), "b0 slow", "the removed listener drains in-flight work");
    assert.equal((await slowOnStays).body.toString(), "b1 slow");
    assert.equal((await fetchRaw(node, port2, "/")).status, 200);
  });

  it("a bind failure does not throw: the listener is reported bound:false; HTTPS is unbound in this slice", async () => {
    const node = "127.0.10.5";
    const { runtime, bp } = await setup(node, ["127.0.0.1"]);
    const squatter = createServer();
    await listen(squatter, node);
    cleanups.push(() => closeServer(squatter));
    const taken = portOf(squatter);
    const free = await freePort(node);
    const tls = await freePort(node);
    await runtime.apply(resolved([{ address: node, spec: specOf(bp, taken, free, tls) }]));
    assert.deepEqual(
      runtime.nodes().map(({ routableInService: _, ...n }) => n),
      [
        {
          loadBalancer: "lb",
          address: node,
          listeners: [
            { port: taken, protocol: "HTTP", bound: false },
            { port: free, protocol: "HTTP", bound: true },
            { port: tls, protocol: "HTTPS", bound: false },
          ],
          connections: 0,
          requestCount: 0,
        },
      ],
    );
    // Once the port is free again, the next apply binds it.
    await closeServer(squatter);
    await runtime.apply(resolved([{ address: node, spec: specOf(bp, taken, free, tls) }]));
    assert.equal(runtime.nodes()[0]?.listeners[0]?.bound, true);
  });
});

function specOf(bp: number, taken: number, free: number, tls: number) {
  return lbSpec(
    "lb",
    [
      httpListener(taken, bp),
      httpListener(free, bp),
      { protocol: "HTTPS", loadBalancerPort: tls, instanceProtocol: "HTTP", instancePort: bp },
    ],
    [backend("i-a")],
    fastHealthCheck(`TCP:${bp}`),
  );
}

describe("HttpListener with a one-connection pool", () => {
  it("regression: a client gone mid-response while the upstream is paused does not wedge the pooled connection", async () => {
    const node = "127.0.10.6";
    const [b] = await echoBackends(["127.0.0.1"]);
    assert.ok(b);
    const pools = new PoolRegistry(1);
    const port = await freePort(node);
    const listener = new HttpListener({
      address: node,
      port,
      metrics: new ProxyMetrics().forListener("lb", 80),
      pools,
      balancer: roundRobin,
      log: silentLogger,
    });
    cleanups.push(async () => {
      await listener.close(100);
      await pools.closeAll(100);
      await closeServer(b.server);
    });
    const health = new BackendHealth("i-a", "127.0.0.1");
    health.record(true, { healthyThreshold: 1, unhealthyThreshold: 1 });
    route(listener, [health], b.port);
    assert.equal(await listener.listen(), true);

    await new Promise<void>((resolve) => {
      const req = request({ host: node, port, path: `/big/${64 * 1024 * 1024}`, agent: false });
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.on("response", (res) => {
        res.once("data", () => {
          res.pause();
          setTimeout(() => req.destroy(), 100);
        });
      });
      req.end();
    });
    const r = await Promise.race([
      fetchRaw(node, port, "/"),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("pool wedged")), 3000).unref()),
    ]);
    assert.equal(r.status, 200);
    await waitFor("exchange finished", () => listener.inFlight === 0);
  });
});
