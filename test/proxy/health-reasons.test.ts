/**
 * Why a health check failed, against real sockets: a back end answering 404, one that stopped
 * listening, one that accepts and never answers, one that resets, one that is not TLS; and the
 * one log line an agent writes when a back end changes state.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { renderHealthCheckFailures } from "../../src/agent/metrics-server.js";
import type { HealthCheckSpec } from "../../src/model/node-spec.js";
import type { Protocol } from "../../src/model/types.js";
import { HealthChecker } from "../../src/proxy/health/checker.js";
import { type ProbeFailure, SocketProbe } from "../../src/proxy/health/probe.js";
import { BackendHealth } from "../../src/proxy/health/state.js";
import { createLogger } from "../../src/util/logger.js";

const HOST = "127.0.0.1";
const servers: Server[] = [];
const sockets = new Set<Socket>();

after(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

function spec(protocol: Protocol, port: number, timeoutSeconds = 1): HealthCheckSpec {
  return {
    protocol,
    port,
    path: protocol === "HTTP" || protocol === "HTTPS" ? "/health" : "",
    intervalSeconds: 30,
    timeoutSeconds,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    authentication: null,
  };
}

async function listen(server: Server): Promise<number> {
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, HOST);
  await once(server, "listening");
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** One check of `target`: whether it passed and why not. */
function probeOnce(
  target: HealthCheckSpec,
  timeoutMs = 1000,
): Promise<{ ok: boolean; failure?: ProbeFailure }> {
  return new Promise((resolve) => {
    const probe = new SocketProbe(HOST, target, timeoutMs, {
      onProbeResult: (ok, failure) => resolve({ ok, ...(failure === undefined ? {} : { failure }) }),
    });
    probe.run();
  });
}

describe("health check failure reasons", () => {
  it("a back end answering 404: kind status, L7STS/404", async () => {
    const port = await listen(createHttpServer((_req, res) => res.writeHead(404).end("no")));
    const r = await probeOnce(spec("HTTP", port));
    assert.deepEqual(r, { ok: false, failure: { kind: "status", detail: "L7STS/404", status: 404 } });
  });

  it("a back end answering 200 passes with no reason", async () => {
    const port = await listen(createHttpServer((_req, res) => res.writeHead(200).end("ok")));
    assert.deepEqual(await probeOnce(spec("HTTP", port)), { ok: true });
  });

  it("a back end that stopped listening: refused, L4CON refused", async () => {
    const gone = createServer();
    gone.listen(0, HOST);
    await once(gone, "listening");
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const r = await probeOnce(spec("HTTP", port));
    assert.deepEqual(r, { ok: false, failure: { kind: "refused", detail: "L4CON refused" } });
    assert.deepEqual(await probeOnce(spec("TCP", port)), r);
  });

  it("a back end that accepts and never answers: timeout, L7TOUT", async () => {
    const port = await listen(createServer(() => {}));
    const started = performance.now();
    const r = await probeOnce(spec("HTTP", port), 300);
    assert.deepEqual(r, { ok: false, failure: { kind: "timeout", detail: "L7TOUT" } });
    assert.ok(performance.now() - started >= 290, "failed only when the timeout ran out");
  });

  it("a back end that resets the connection after the request: reset, L7RSP reset", async () => {
    const port = await listen(createServer((s) => s.once("data", () => s.resetAndDestroy())));
    const r = await probeOnce(spec("HTTP", port));
    assert.deepEqual(r, { ok: false, failure: { kind: "reset", detail: "L7RSP reset" } });
  });

  it("a back end that does not speak TLS, for an SSL check: tls, L6 TLS handshake", async () => {
    const port = await listen(createServer((s) => s.end("SSH-2.0-OpenSSH\r\n")));
    const r = await probeOnce(spec("SSL", port));
    assert.equal(r.ok, false);
    assert.equal(r.failure?.kind, "tls");
    assert.match(r.failure?.detail ?? "", /^L6 TLS handshake: ./);
  });

  it("a back end answering garbage: other, L7RSP invalid status line", async () => {
    const port = await listen(createServer((s) => s.once("data", () => s.end("hello there\r\n"))));
    const r = await probeOnce(spec("HTTP", port));
    assert.deepEqual(r, { ok: false, failure: { kind: "other", detail: "L7RSP invalid status line" } });
  });

  it("BackendHealth keeps the last failure with its time, and reports it beside AWS's words", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    const at = new Date("2026-12-05T10:00:00.000Z");
    h.record(true, { healthyThreshold: 1, unhealthyThreshold: 1 });
    h.record(
      false,
      { healthyThreshold: 1, unhealthyThreshold: 1 },
      { kind: "status", detail: "L7STS/503", status: 503 },
      at,
    );
    const report = h.report("web");
    assert.equal(report.state, "OutOfService");
    assert.equal(report.reasonCode, "Instance");
    assert.equal(
      report.description,
      "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
    );
    assert.deepEqual(report.lastFailure, {
      kind: "status",
      detail: "L7STS/503",
      status: 503,
      at: "2026-12-05T10:00:00.000Z",
    });
    // Passing again keeps the last failure: it is history, not state.
    h.record(true, { healthyThreshold: 1, unhealthyThreshold: 1 });
    assert.equal(h.report("web").state, "InService");
    assert.equal(h.report("web").lastFailure?.detail, "L7STS/503");
  });

  it("the checker logs one line per state change: load balancer, instance, address, from, to, reason", async () => {
    let status = 200;
    const port = await listen(createHttpServer((_req, res) => res.writeHead(status).end()));
    const lines: string[] = [];
    const log = createLogger({}, "info", (line) => lines.push(line));
    const changes: string[] = [];
    const checker = new HealthChecker(
      "web",
      { ...spec("HTTP", port), unhealthyThreshold: 1, healthyThreshold: 1 },
      { healthChanged: (_lb, h) => changes.push(h.state) },
      log,
    );
    try {
      checker.update({ ...spec("HTTP", port), unhealthyThreshold: 1, healthyThreshold: 1 }, [
        { instanceId: "i-web", address: HOST, zone: "us-east-1a" },
      ]);
      await waitUntil(() => changes.length === 1);
      status = 404;
      checker.tick();
      await waitUntil(() => changes.length === 2);
    } finally {
      checker.stop();
    }
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const changed = records.filter((r) => r.msg === "instance health changed");
    assert.equal(changed.length, 2, lines.join(""));
    assert.deepEqual(
      changed.map((r) => [r.loadBalancer, r.instanceId, r.address, r.from, r.to, r.reason]),
      [
        ["web", "i-web", HOST, "OutOfService", "InService", undefined],
        ["web", "i-web", HOST, "InService", "OutOfService", "L7STS/404"],
      ],
    );
    assert.equal(
      lines.every((l) => l.endsWith("\n") && l.indexOf("\n") === l.length - 1),
      true,
    );
    // Each failure is counted by kind for the agent's metrics.
    assert.deepEqual([...checker.failures], [["status", 1]]);
    assert.equal(
      renderHealthCheckFailures({ web: checker.failures }, "us-east-1a").text().trimEnd().split("\n").at(-1),
      'ballast_agent_health_check_failures_total{load_balancer="web",zone="us-east-1a",kind="status"} 1',
    );
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
