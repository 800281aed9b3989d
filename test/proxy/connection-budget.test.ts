import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { limitsFor, openFileLimit } from "../../src/proxy/connection-budget.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import {
  backend,
  closeServer,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  waitFor,
} from "./helpers.js";

const cleanups = cleanupsAfterAll();

describe("connection caps from the open-file limit", () => {
  it("reads this process's soft limit", () => {
    const shell = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    assert.equal(openFileLimit(), shell);
  });

  it("keeps a reserve off the top, half the rest for clients, half of that per node", () => {
    assert.deepEqual(limitsFor(20_000), { maxConnections: 9000, maxNodeConnections: 4500 });
    assert.deepEqual(limitsFor(1024), { maxConnections: 384, maxNodeConnections: 192 });
    assert.deepEqual(limitsFor(300), { maxConnections: 22, maxNodeConnections: 11 });
  });
});

/** Opens `n` TCP connections that send nothing; resolves once each is connected or refused. */
async function idle(host: string, port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host, port });
    s.on("error", () => {});
    sockets.push(s);
  }
  await Promise.all(sockets.map((s) => Promise.race([once(s, "connect"), once(s, "close")])));
  return sockets;
}

describe("a flood of idle connections to one load balancer", () => {
  it("is capped: its health checks keep passing, the other load balancer is served, and it serves again at once after", async () => {
    const nodeA = "127.0.15.1";
    const nodeB = "127.0.15.2";
    const runtime = new ProxyRuntime({
      logger: silentLogger,
      zone: "zone-a",
      connectionLimits: { maxConnections: 300, maxNodeConnections: 150 },
    });
    const [b] = await echoBackends(["127.0.0.1"]);
    assert.ok(b);
    const flood: Socket[] = [];
    cleanups.push(async () => {
      for (const s of flood) s.destroy();
      await runtime.close();
      await closeServer(b.server);
    });
    const [portA, portB] = [await freePort(nodeA), await freePort(nodeB)];
    const hc = fastHealthCheck(`HTTP:${b.port}/health`, { interval: 0.1 });
    await runtime.apply(
      resolved([
        { address: nodeA, spec: lbSpec("a", [httpListener(portA, b.port)], [backend("i-1")], hc) },
        { address: nodeB, spec: lbSpec("b", [httpListener(portB, b.port)], [backend("i-1")], hc) },
      ]),
    );
    await waitFor(
      "InService",
      () => runtime.health().every((h) => h.state === "InService") && runtime.health().length === 2,
    );
    await waitFor("bound", () => runtime.nodes().every((n) => n.listeners[0]?.bound === true));

    flood.push(...(await idle(nodeA, portA, 400)));
    await waitFor(
      "the caps to close what is over them",
      () => runtime.metrics.forListener("a", portA).rejectedConnectionCount >= 250,
    );
    assert.equal(runtime.connections.open, 150, "the node's cap");
    assert.equal(flood.filter((s) => !s.destroyed && s.readyState === "open").length >= 150, true);

    // Health checks still run (they are outbound and under the reserve): let several rounds pass.
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(
      runtime.health().map((h) => h.state),
      ["InService", "InService"],
    );
    const other = await fetchRaw(nodeB, portB, "/");
    assert.equal(other.status, 200, "the other load balancer is served");
    await assert.rejects(fetchRaw(nodeA, portA, "/"), "the flooded node refuses more");

    for (const s of flood) s.destroy();
    await waitFor("the flood's connections to be released", () => runtime.connections.open === 0);
    const again = await fetchRaw(nodeA, portA, "/");
    assert.equal(again.status, 200, "served at once: no back end went OutOfService");
    assert.ok(runtime.connections.refused >= 251);
  });
});
