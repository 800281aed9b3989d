/**
 * What one agent's status report costs the control plane at N load balancers: an agent channel
 * on a SQLite store of N load balancers, in this process, receives status reports of an agent
 * with a node and traffic figures of each and 100 back ends (the propagation benchmark's agent,
 * plus a few back ends), and answers each with its DNS records (as agents ask).
 * For each kind of report (full: an agent of the earlier version, or any agent against a control
 * plane of the earlier version; partial: ten back ends changed since the acknowledged report) it
 * prints the milliseconds from sending to the whole answer and the process's CPU per report.
 *
 *   node dist/bench/status-report.js [--lbs 10000] [--reports 30] [--lib OTHER/dist/src]
 *
 * `--lib` loads the agent channel and store of another build (the reference); a build that never
 * acknowledges a base gets full reports only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { AgentChannel, AgentChannelOptions } from "../src/controller/agent-channel.js";
import type { AgentStatus, InstanceHealthReport, NodeReport } from "../src/model/agent-protocol.js";
import type { KeyedStatus } from "../src/model/status-delta.js";
import { LATENCY_BOUNDS_MS, type TrafficReport } from "../src/model/traffic.js";
import type { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { TrafficHistory } from "../src/store/traffic-history.js";
import { silentLogger } from "../src/util/logger.js";
import { benchLoadBalancer } from "./fixtures.js";

const { values } = parseArgs({
  options: {
    lbs: { type: "string", default: "10000" },
    reports: { type: "string", default: "30" },
    lib: { type: "string" },
  },
});
const N = Number(values.lbs);
const REPORTS = Number(values.reports);
const LIB = resolve(values.lib ?? new URL("../src", import.meta.url).pathname);
const ZONE = "us-east-1a";
const TOKEN = "bench-status-token-0123456789";

const { AgentChannel: Channel } = (await import(join(LIB, "controller/agent-channel.js"))) as {
  AgentChannel: new (o: AgentChannelOptions) => AgentChannel;
};
const { SqliteStore: Store } = (await import(join(LIB, "store/sqlite/sqlite-store.js"))) as {
  SqliteStore: new (path: string) => SqliteStore;
};
const { TrafficHistory: History } = (await import(join(LIB, "store/traffic-history.js"))) as {
  TrafficHistory: new () => TrafficHistory;
};

function statusAt(round: number): AgentStatus {
  const nodes: NodeReport[] = [];
  const health: InstanceHealthReport[] = [];
  const traffic: TrafficReport[] = [];
  for (let i = 0; i < N; i++) {
    const loadBalancer = `lb-${i}`;
    // Ten back ends change state each round; everything else stays as it was.
    const down = i < 10 && round % 2 === 1;
    nodes.push({
      loadBalancer,
      address: `127.1.${i >> 8}.${i & 255}`,
      routableInService: down ? 0 : 1,
      connections: 0,
      requestCount: 0,
      listeners: [{ port: 80, protocol: "HTTP", bound: true }],
    });
    if (i < 100)
      health.push({
        loadBalancer,
        instanceId: "10.0.0.1",
        state: down ? "OutOfService" : "InService",
        reasonCode: down ? "Instance" : "N/A",
        description: down
          ? "Instance has failed at least the UnhealthyThreshold number of health checks consecutively."
          : "N/A",
      });
    traffic.push({
      loadBalancer,
      requests: 0,
      http4xx: 0,
      http5xx: 0,
      latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0),
      surgeQueueLength: 0,
      activeConnections: 0,
    });
  }
  return {
    agentId: "bench-agent",
    zone: ZONE,
    configRevision: 1,
    nodes,
    health,
    unexplained: [],
    traffic,
    time: new Date().toISOString(),
  };
}

async function post(
  url: string,
  body: string,
): Promise<{ ms: number; cpuMs: number; ack: Record<string, unknown> }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
      accept: "application/json",
    },
    body,
  });
  const text = await res.text();
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  if (res.status !== 200) throw new Error(`status report answered ${res.status}: ${text}`);
  return { ms, cpuMs: (used.user + used.system) / 1000, ack: JSON.parse(text) as Record<string, unknown> };
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? 0;
};

const dir = mkdtempSync(join(tmpdir(), "ballast-bench-status-"));
const store = new Store(join(dir, "ballast.db"));
for (let from = 0; from < N; from += 1000)
  await store.mutate(
    { principal: "bench", sourceIp: "127.0.0.1", requestId: `seed-${from}`, action: "Seed" },
    async (tx) => {
      for (let i = from; i < Math.min(N, from + 1000); i++) {
        const lb = benchLoadBalancer(i, ["10.0.0.1"]);
        tx.put("loadBalancer", lb.name, { ...lb, availabilityZones: [ZONE] });
      }
    },
  );
const channel = new Channel({
  store,
  token: TOKEN,
  zones: [ZONE],
  logger: silentLogger,
  traffic: new History(),
});
const url = `http://127.0.0.1:${await channel.listen(0)}/agent/v1/status`;
const statuses = [statusAt(0), statusAt(1)];
const fullBody = statuses.map((s) => JSON.stringify(s));

process.stdout.write(
  `status reports at ${N} load balancers (${LIB}): ${REPORTS} of each kind after 3 to warm up\n\n`,
);
process.stdout.write("| kind | body KiB | p50 ms | p99 ms | CPU ms per report |\n|---|---|---|---|---|\n");
const row = (kind: string, kib: number, r: { ms: number; cpuMs: number }[]): void => {
  const ms = r.map((x) => x.ms);
  const cpu = r.reduce((s, x) => s + x.cpuMs, 0) / r.length;
  process.stdout.write(
    `| ${kind} | ${kib.toFixed(1)} | ${q(ms, 0.5).toFixed(1)} | ${q(ms, 0.99).toFixed(1)} | ${cpu.toFixed(1)} |\n`,
  );
};

// Full reports, as an agent of the earlier version sends them every second.
const full: { ms: number; cpuMs: number }[] = [];
for (let i = 0; i < REPORTS + 3; i++) {
  const r = await post(url, fullBody[i % 2] as string);
  if (i >= 3) full.push(r);
}
row("full", (fullBody[0]?.length ?? 0) / 1024, full);

// Partial reports, when the control plane acknowledges a base: a settled agent's (nothing
// changed), and one whose ten back ends change state at every report.
const { keyStatus, partialStatus } = await import("../src/model/status-delta.js");
const keys = statuses.map((s) => keyStatus(s as AgentStatus));
let seq = 1;
let tag: string | undefined;
let acked = await post(url, JSON.stringify({ ...statuses[0], report: { seq } }));
for (const changing of [false, true]) {
  if (typeof acked.ack.accepted !== "number") {
    process.stdout.write("| partial | - | - | - | (this build acknowledges no base) |\n");
    break;
  }
  const runs: { ms: number; cpuMs: number }[] = [];
  let bytes = 0;
  for (let i = 1; i <= REPORTS + 3; i++) {
    const at = changing ? i % 2 : 0;
    const before = changing ? (i + 1) % 2 : 0;
    const body = JSON.stringify(
      partialStatus(statuses[at] as AgentStatus, keys[at] as KeyedStatus, keys[before] as KeyedStatus, {
        seq: seq + 1,
        base: seq,
        ...(tag === undefined ? {} : { dnsTag: tag }),
      }),
    );
    acked = await post(url, body);
    if (acked.ack.accepted !== seq + 1)
      throw new Error(`partial report refused: ${JSON.stringify(acked.ack)}`);
    seq++;
    if (typeof acked.ack.dnsTag === "string") tag = acked.ack.dnsTag;
    if (i > 3) {
      runs.push(acked);
      bytes += body.length;
    }
  }
  row(
    changing ? "partial, 10 back ends changed" : "partial, nothing changed",
    bytes / runs.length / 1024,
    runs,
  );
}
await channel.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
