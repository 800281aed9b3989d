import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderAgentMetrics, startMetricsServer } from "../../src/agent/metrics-server.js";
import { HOST_GAUGES, LATENCY_METRIC, METRIC_PREFIX, SCALAR_METRICS } from "../../src/proxy/metrics.js";
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
  waitFor,
} from "../proxy/helpers.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";

const cleanups = cleanupsAfterAll();

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("agent metrics endpoint", () => {
  it("serves the CloudWatch-named counters, host gauges and latency per load balancer and zone", async () => {
    const node = "127.0.18.30";
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    const [b] = await echoBackends(["127.0.18.31"]);
    assert.ok(b);
    const server = await startMetricsServer({ source: runtime, zone: "zone-a", port: 0 });
    cleanups.push(async () => {
      await server.close();
      await runtime.close();
      await closeServer(b.server);
    });
    const port = await freePort(node);
    const spec = lbSpec(
      "web",
      [httpListener(port, b.port)],
      [backend("i-1", "127.0.18.31"), backend("i-down", "127.0.18.32")],
      fastHealthCheck(`HTTP:${b.port}/health`),
    );
    await runtime.apply(resolved([{ address: node, spec }]));
    await waitFor("i-1 InService", () =>
      runtime.health().some((h) => h.instanceId === "i-1" && h.state === "InService"),
    );
    // i-down starts OutOfService (registering); wait for the failed checks to mark it so.
    await waitFor("i-down OutOfService after failed checks", () =>
      runtime
        .health()
        .some((h) => h.instanceId === "i-down" && h.state === "OutOfService" && h.reasonCode === "Instance"),
    );

    const labels = '{load_balancer="web",zone="zone-a"}';
    const first = (await fetchRaw("127.0.0.1", server.port, "/metrics")).body.toString();
    assert.equal(value(first, `ballast_elb_RequestCount${labels}`), 0);
    for (let i = 0; i < 3; i++) assert.equal((await fetchRaw(node, port, "/")).status, 200);

    const reply = await fetchRaw("127.0.0.1", server.port, "/metrics");
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    const text = reply.body.toString();
    assert.equal(value(text, `ballast_elb_RequestCount${labels}`), 3);
    assert.equal(value(text, `ballast_elb_HTTPCode_Backend_2XX${labels}`), 3);
    assert.equal(value(text, `ballast_elb_HTTPCode_ELB_5XX${labels}`), 0);
    assert.equal(value(text, `ballast_elb_HealthyHostCount${labels}`), 1);
    assert.equal(value(text, `ballast_elb_UnHealthyHostCount${labels}`), 1);
    assert.equal(value(text, `ballast_elb_SurgeQueueLength${labels}`), 0);
    assert.equal(value(text, `ballast_elb_Latency_count{load_balancer="web",zone="zone-a"}`), 3);
    assert.equal(value(text, `ballast_elb_Latency_bucket{load_balancer="web",zone="zone-a",le="+Inf"}`), 3);
    assert.ok(value(text, `ballast_elb_Latency_sum{load_balancer="web",zone="zone-a"}`) > 0);
    assert.match(text, /# TYPE ballast_elb_RequestCount counter\n/);
    assert.match(text, /# TYPE ballast_elb_HealthyHostCount gauge\n/);
    assert.match(text, /# TYPE ballast_elb_Latency histogram\n/);

    assert.equal((await fetchRaw("127.0.0.1", server.port, "/other")).status, 404);
  });

  it("declares each metric once, from the one declaration table", () => {
    const text = renderAgentMetrics({}, [], "z");
    const types = text.split("\n").filter((l) => l.startsWith("# TYPE "));
    const names = [...SCALAR_METRICS, ...HOST_GAUGES, LATENCY_METRIC].map((m) => METRIC_PREFIX + m.name);
    assert.deepEqual(
      types.map((l) => l.split(" ")[2]),
      names,
    );
    assert.equal(new Set(names).size, names.length);
  });
});
