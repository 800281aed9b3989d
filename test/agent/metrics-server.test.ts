import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { renderAgentMetrics, renderDataPlane, startMetricsServer } from "../../src/agent/metrics-server.js";
import { NODE_SPEC_FORMAT } from "../../src/model/node-spec.js";
import { HOST_GAUGES, LATENCY_METRIC, LISTENER_METRICS, ProxyMetrics } from "../../src/proxy/metrics.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import {
  backend,
  closeServer,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  tcpListener,
  waitFor,
} from "../proxy/helpers.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import { promtoolCheckMetrics } from "../support/promtool.js";

const cleanups = cleanupsAfterAll();
const READY = { ready: true, detail: {} };

/** A /24 of loopback addresses of this run's own (127.X.Y.0), so parallel runs do not meet. */
const NET = `127.${40 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("agent metrics endpoint", () => {
  it("serves per-listener ELB numbers, host gauges, per-back-end series and process metrics that promtool accepts", async () => {
    const node = `${NET}.30`;
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    const [b1, b2] = await echoBackends([`${NET}.31`, `${NET}.32`]);
    assert.ok(b1 && b2);
    const server = await startMetricsServer({
      source: runtime,
      zone: "zone-a",
      agent: () => ({ revision: 7, readiness: READY }),
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
    });
    cleanups.push(async () => {
      await server.close();
      await runtime.close();
      await closeServer(b1.server);
      await closeServer(b2.server);
    });
    const httpPort = await freePort(node);
    const tcpPort = await freePort(node);
    const spec = (ids: readonly string[]) =>
      lbSpec(
        "web",
        [httpListener(httpPort, b1.port), tcpListener(tcpPort, b1.port)],
        ids.map((id, i) => backend(id, `${NET}.${31 + i}`)).concat([backend("i-down", `${NET}.33`)]),
        fastHealthCheck(`HTTP:${b1.port}/health`),
      );
    await runtime.apply(resolved([{ address: node, spec: spec(["i-1", "i-2"]) }]));
    await waitFor("i-1 and i-2 InService", () =>
      ["i-1", "i-2"].every((id) =>
        runtime.health().some((h) => h.instanceId === id && h.state === "InService"),
      ),
    );
    await waitFor("i-down OutOfService after failed checks", () =>
      runtime
        .health()
        .some((h) => h.instanceId === "i-down" && h.state === "OutOfService" && h.reasonCode === "Instance"),
    );

    const scrape = async (): Promise<string> => {
      const reply = await fetchRaw("127.0.0.1", server.port, "/metrics");
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
      return reply.body.toString();
    };
    const http = `load_balancer="web",zone="zone-a",listener="${httpPort}"`;
    const lb = `load_balancer="web",zone="zone-a"`;
    assert.equal(value(await scrape(), `ballast_elb_requests_total{${http}}`), 0);
    for (let i = 0; i < 6; i++) assert.equal((await fetchRaw(node, httpPort, "/")).status, 200);
    const text = await scrape();

    assert.equal(value(text, `ballast_elb_requests_total{${http}}`), 6);
    assert.equal(value(text, `ballast_elb_backend_responses_total{${http},code_class="2xx"}`), 6);
    assert.equal(value(text, `ballast_elb_generated_responses_total{${http},code_class="5xx"}`), 0);
    assert.equal(value(text, `ballast_elb_surge_queue_length{${http}}`), 0);
    assert.ok(value(text, `ballast_elb_new_connections_total{${http}}`) >= 6);
    assert.equal(value(text, `ballast_elb_latency_seconds_count{${http}}`), 6);
    assert.equal(value(text, `ballast_elb_latency_seconds_bucket{${http},le="+Inf"}`), 6);
    assert.ok(value(text, `ballast_elb_latency_seconds_sum{${http}}`) > 0);
    assert.equal(
      value(text, `ballast_elb_requests_total{load_balancer="web",zone="zone-a",listener="${tcpPort}"}`),
      0,
    );
    assert.equal(value(text, `ballast_elb_healthy_hosts{${lb}}`), 2);
    assert.equal(value(text, `ballast_elb_unhealthy_hosts{${lb}}`), 1);
    // Least outstanding requests over two InService back ends: both served, six in all.
    const served = (id: string): number =>
      value(text, `ballast_backend_responses_total{${lb},backend="${id}",code_class="2xx"}`);
    assert.equal(served("i-1") + served("i-2"), 6);
    assert.equal(value(text, `ballast_backend_up{${lb},backend="i-1"}`), 1);
    assert.equal(value(text, `ballast_backend_up{${lb},backend="i-down"}`), 0);
    assert.equal(
      value(text, `ballast_backend_latency_seconds_count{${lb},backend="i-1"}`) +
        value(text, `ballast_backend_latency_seconds_count{${lb},backend="i-2"}`),
      6,
    );
    assert.equal(value(text, 'ballast_agent_config_revision{zone="zone-a"}'), 7);
    assert.ok(value(text, "process_cpu_seconds_total") > 0);
    assert.ok(value(text, "process_resident_memory_bytes") > 0);
    assert.ok(value(text, "process_open_fds") > 0);
    assert.ok(value(text, "process_max_fds") >= value(text, "process_open_fds"));
    assert.ok(value(text, "process_start_time_seconds") > 1.7e9);
    assert.ok(value(text, "nodejs_eventloop_lag_seconds") >= 0);
    assert.ok(value(text, "nodejs_heap_size_used_bytes") > 0);

    const lint = await promtoolCheckMetrics(text);
    assert.equal(lint.output, "", `promtool check metrics found:\n${lint.output}`);
    assert.equal(lint.code, 0);

    // i-2 is deregistered: its series leave with it, the others stay.
    await runtime.apply(resolved([{ address: node, spec: spec(["i-1"]) }]));
    const after = await scrape();
    assert.doesNotMatch(after, /backend="i-2"/);
    assert.match(after, new RegExp(`ballast_backend_up\\{${lb},backend="i-1"\\} 1`));
    assert.equal(value(after, `ballast_elb_healthy_hosts{${lb}}`), 1);
    // And it comes back (from zero: a new registration starts new counters).
    await runtime.apply(resolved([{ address: node, spec: spec(["i-1", "i-2"]) }]));
    const back = await scrape();
    assert.equal(value(back, `ballast_backend_responses_total{${lb},backend="i-2",code_class="2xx"}`), 0);

    // The TCP listener removed: its series leave; the load balancer removed: all of them.
    await runtime.apply(
      resolved([
        {
          address: node,
          spec: lbSpec(
            "web",
            [httpListener(httpPort, b1.port)],
            [backend("i-1", `${NET}.31`)],
            fastHealthCheck(`HTTP:${b1.port}/health`),
          ),
        },
      ]),
    );
    assert.doesNotMatch(await scrape(), new RegExp(`listener="${tcpPort}"`));
    await runtime.apply([]);
    const gone = await scrape();
    assert.doesNotMatch(gone, /load_balancer="web"/);
    assert.equal((await promtoolCheckMetrics(gone)).output, "");

    const other = await fetchRaw("127.0.0.1", server.port, "/other");
    assert.equal(other.status, 404);
    assert.equal(JSON.parse(other.body.toString()).error.code, "NotFound");
    assert.equal((await fetchRaw("127.0.0.1", server.port, "/metrics", { method: "POST" })).status, 405);
  });

  it("declares each family once, from the one declaration table", async () => {
    const empty = {
      metrics: { listeners: () => [] },
      health: () => [],
      backends: () => [],
    };
    const text = await renderAgentMetrics(empty, "z", { revision: 0, readiness: READY });
    const types = text
      .split("\n")
      .filter((l) => l.startsWith("# TYPE "))
      .map((l) => l.split(" ")[2]);
    assert.equal(new Set(types).size, types.length);
    for (const name of [...LISTENER_METRICS, ...HOST_GAUGES, LATENCY_METRIC].map((m) => m.name))
      assert.ok(types.includes(name), `${name} declared`);
    for (const m of LISTENER_METRICS) {
      assert.match(m.name, /^ballast_elb_[a-z0-9_]+$/);
      assert.equal(m.type === "counter", m.name.endsWith("_total"), `${m.name}: _total exactly on counters`);
      for (const s of m.series)
        assert.ok(
          m.help.includes(s.cloudWatch.split("_")[0] as string),
          `${m.name} help names ${s.cloudWatch}`,
        );
    }
    assert.equal((await promtoolCheckMetrics(text)).output, "");
  });
});

describe("agent metrics of many load balancers", () => {
  it("counts hosts per load balancer and lets the event loop turn while it renders", async () => {
    const metrics = new ProxyMetrics();
    const n = 3000;
    for (let i = 0; i < n; i++) metrics.forListener(`lb-${i}`, 80);
    const health = Array.from({ length: 2 * n }, (_, k) => ({
      loadBalancer: `lb-${k % n}`,
      instanceId: `i-${k}`,
      state: k % 3 === 0 ? ("OutOfService" as const) : ("InService" as const),
      reasonCode: "N/A" as const,
      description: "",
    }));
    const source = { metrics, health: () => health, backends: () => [] };
    // Work queued for the event loop's next turn runs while the data plane is still being
    // rendered, not after it.
    let rendered = false;
    let turnedMidway = false;
    setImmediate(() => {
      turnedMidway = !rendered;
    });
    await renderDataPlane(source, "z");
    rendered = true;
    assert.ok(turnedMidway, "the event loop turned during the render");
    const text = await renderAgentMetrics(source, "z", { revision: 1, readiness: READY });
    // lb-0's back ends are k = 0 and 3000: both multiples of 3, both OutOfService.
    assert.equal(value(text, 'ballast_elb_unhealthy_hosts{load_balancer="lb-0",zone="z"}'), 2);
    assert.equal(value(text, 'ballast_elb_healthy_hosts{load_balancer="lb-0",zone="z"}'), 0);
    // lb-1: k = 1 and 3001, neither a multiple of 3.
    assert.equal(value(text, 'ballast_elb_healthy_hosts{load_balancer="lb-1",zone="z"}'), 2);
    const listeners = text.split("\n").filter((l) => l.startsWith("ballast_elb_requests_total{"));
    assert.equal(listeners.length, n, "one request series per listener");
    assert.equal((await promtoolCheckMetrics(text)).output, "");
  });
});

describe("agent health endpoints", () => {
  it("answer without credentials; /readyz is 503 until a configuration is applied", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ballast-agent-ready-"));
    const closed = await freePort("127.0.0.1");
    const agent = new Agent({
      agentId: "ready-test",
      zone: "zone-a",
      pool: `${NET}.0/24`,
      dataDir,
      // Nobody listens there: the agent has neither a control plane nor a last-known-good.
      controlUrls: [`http://127.0.0.1:${closed}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
      metricsListen: { host: "127.0.0.1", port: 0 },
    });
    cleanups.push(() => agent.stop());
    await agent.start();
    const address = agent.metricsAddress;
    assert.ok(address);
    assert.equal(
      (await readFile(join(dataDir, "metrics-address"), "utf8")).trim(),
      `127.0.0.1:${address.port}`,
    );

    const get = async (path: string) => {
      const r = await fetchRaw("127.0.0.1", address.port, path);
      return { status: r.status, body: r.body.toString() };
    };
    const alive = await get("/healthz");
    assert.equal(alive.status, 200);
    assert.equal(JSON.parse(alive.body).status, "alive");
    const notReady = await get("/readyz");
    assert.equal(notReady.status, 503, notReady.body);
    assert.equal(JSON.parse(notReady.body).configApplied, false);
    assert.match((await get("/metrics")).body, /ballast_agent_ready\{zone="zone-a"\} 0/);

    assert.equal(
      await agent.accept({
        format: NODE_SPEC_FORMAT,
        revision: 3,
        zone: "zone-a",
        loadBalancers: [],
        removals: [],
      }),
      true,
    );
    const ready = await get("/readyz");
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(
      { status: JSON.parse(ready.body).status, configRevision: JSON.parse(ready.body).configRevision },
      { status: "ready", configRevision: 3 },
    );
    assert.match((await get("/metrics")).body, /ballast_agent_ready\{zone="zone-a"\} 1/);
  });
});
