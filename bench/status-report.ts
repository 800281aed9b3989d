/**
 * What the traffic figures add to an agent's status report (sent every second) and what the
 * control plane's traffic history costs.
 *
 *   node dist/bench/status-report.js [--lbs 100,1000] [--rounds 200]
 *
 * For each size: a status report of an agent serving N load balancers (one listener and two back
 * ends each, one with a last failure), as the agent sends it, with the traffic figures and
 * without (the reference: the report before them). Measured: its JSON bytes, the time to encode
 * and parse it (what agent and control plane do each second), the time `TrafficHistory.record`
 * takes per report, and the heap the history holds once full (15 minutes of 5-second intervals
 * for N load balancers). Nothing here asserts a time.
 */
import { parseArgs } from "node:util";
import type { AgentStatus, InstanceHealthReport, NodeReport } from "../src/model/agent-protocol.js";
import { LATENCY_BOUNDS_MS, parseTrafficReports, type TrafficReport } from "../src/model/traffic.js";
import { TrafficHistory } from "../src/store/traffic-history.js";

const { values } = parseArgs({
  options: { lbs: { type: "string", default: "100,1000" }, rounds: { type: "string", default: "200" } },
});
const SIZES = values.lbs.split(",").map(Number);
const ROUNDS = Number(values.rounds);

function report(n: number, withTraffic: boolean, tick: number): AgentStatus {
  const nodes: NodeReport[] = [];
  const health: InstanceHealthReport[] = [];
  const traffic: TrafficReport[] = [];
  for (let i = 0; i < n; i++) {
    const lb = `load-balancer-${i}`;
    nodes.push({
      loadBalancer: lb,
      address: `127.1.${i >> 8}.${i & 255}`,
      routableInService: 1,
      listeners: [{ port: 80, protocol: "HTTP", bound: true }],
    });
    health.push({
      loadBalancer: lb,
      instanceId: `i-${i}a`,
      state: "InService",
      reasonCode: "N/A",
      description: "N/A",
    });
    health.push({
      loadBalancer: lb,
      instanceId: `i-${i}b`,
      state: "OutOfService",
      reasonCode: "Instance",
      description:
        "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
      lastFailure: { kind: "status", detail: "L7STS/404", status: 404, at: "2026-12-05T10:00:00.000Z" },
    });
    const latency = LATENCY_BOUNDS_MS.map((_, b) => (b < 6 ? tick * (b + 1) * 3 : 0));
    latency.push(0);
    traffic.push({
      loadBalancer: lb,
      requests: tick * 100 + i,
      http4xx: tick,
      http5xx: 0,
      latency,
      surgeQueueLength: 0,
      activeConnections: 12,
    });
  }
  return {
    agentId: "us-east-1a-bench",
    zone: "us-east-1a",
    configRevision: 1234,
    nodes,
    health,
    unexplained: [],
    ...(withTraffic ? { traffic } : {}),
    time: new Date().toISOString(),
  };
}

function timeUs(f: () => void, rounds: number): number {
  for (let i = 0; i < Math.min(100, rounds); i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) f();
  return Number(process.hrtime.bigint() - t0) / 1000 / rounds;
}

const gc = (globalThis as { gc?: () => void }).gc;
const rows: string[] = [];
for (const n of SIZES) {
  const before = JSON.stringify(report(n, false, 1));
  const after = JSON.stringify(report(n, true, 1));
  const encodeBefore = timeUs(() => JSON.parse(JSON.stringify(report(n, false, 1))), ROUNDS);
  const encodeAfter = timeUs(() => JSON.parse(JSON.stringify(report(n, true, 1))), ROUNDS);
  // One agent's reports, one second apart, through the control plane's parse and record.
  const history = new TrafficHistory();
  const start = Date.UTC(2026, 11, 5, 10, 0, 0);
  const reports = Array.from({ length: 60 }, (_, t) => report(n, true, t).traffic ?? []);
  let t = 0;
  const recordUs = timeUs(() => {
    history.record("a", "us-east-1", parseTrafficReports(reports[t % 60]), start + t * 1000);
    t++;
  }, ROUNDS);
  // The history's own size: what the heap and typed-array memory grow by as it fills.
  const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  gc?.();
  const before0 = used();
  const full = new TrafficHistory();
  for (let s = 0; s < 15 * 60; s++) full.record("a", "us-east-1", reports[s % 60] ?? [], start + s * 1000);
  gc?.();
  const heapKiB = (used() - before0) / 1024;
  if (full.size !== n) throw new Error(`history holds ${full.size} load balancers, expected ${n}`);
  rows.push(
    `| ${n} | ${before.length} | ${after.length} | ${(after.length / before.length).toFixed(2)} | ` +
      `${encodeBefore.toFixed(0)} | ${encodeAfter.toFixed(0)} | ${(encodeAfter / encodeBefore).toFixed(2)} | ` +
      `${recordUs.toFixed(0)} | ${gc ? (heapKiB / n).toFixed(1) : "(run with --expose-gc)"} |`,
  );
}
process.stdout.write(
  [
    "| load balancers | report bytes, before | with traffic | ratio | encode+parse µs, before | with traffic | ratio | record µs per report | history KiB per load balancer (15 min) |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n"),
);
