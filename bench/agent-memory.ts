/**
 * Agent memory per idle load balancer: heap and RSS after GC of an agent serving N load
 * balancers from its last-known-good file, against the same agent serving none.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/agent-memory.js [--lbs 1000,5000] [--runs 3]
 *
 * Each measurement is a fresh process (`node --expose-gc`): it writes a last-known-good file of N
 * load balancers, starts a real `Agent` on it (no control plane: the polls fail and back off),
 * waits until every listener is bound and every back end has answered its first health check,
 * lets it idle, collects garbage and reads `process.memoryUsage()`. Two shapes of load balancer:
 * "node" — one HTTP listener bound on its own node address (pool 127.64.0.0/16) and one back end
 * under an HTTP health check every 30 s (ELB's default) — and "bare" — no listener, one back end.
 * The agent runs with the young generation its keeper gives it (`--semi-space 4`; 0: V8's
 * default). Nothing here asserts a number.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { Agent } from "../src/agent/agent.js";
import { writeLastKnownGood } from "../src/agent/last-known-good.js";
import { WORKER_SEMI_SPACE_MB } from "../src/cli/agent-keeper-cmd.js";
import { silentLogger } from "../src/util/logger.js";
import { aNodeSpec } from "../test/support/builders.js";

const ZONE = "us-east-1a";
const POOL = "127.64.0.0/16";
type Shape = "node" | "bare";

interface Sample {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
}

const { values } = parseArgs({
  options: {
    lbs: { type: "string", default: "1000,5000" },
    runs: { type: "string", default: "3" },
    child: { type: "string" },
    shape: { type: "string", default: "node" },
    /** MiB per semi-space of the measured agent: as its keeper starts it; 0: V8's default. */
    "semi-space": { type: "string", default: String(WORKER_SEMI_SPACE_MB) },
  },
});

function address(i: number): string {
  return `127.64.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

async function child(n: number, shape: Shape): Promise<void> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  const backend = createServer((_req, res) => res.end("ok"));
  backend.listen(0, "127.0.0.1");
  await new Promise((r) => backend.once("listening", r));
  const port = (backend.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), "ballast-bench-mem-"));
  const lbs = [];
  const addresses: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const name = `lb-${i}`;
    addresses[name] = address(i);
    lbs.push(
      aNodeSpec({
        name,
        revision: 1,
        dnsName: `${name}.bench`,
        listeners:
          shape === "node"
            ? [{ protocol: "HTTP", loadBalancerPort: 18080, instanceProtocol: "HTTP", instancePort: port }]
            : [],
        healthCheck: {
          target: `HTTP:${port}/`,
          interval: 30,
          timeout: 5,
          unhealthyThreshold: 2,
          healthyThreshold: 10,
        },
        backends: process.env.BENCH_NO_BACKENDS
          ? []
          : [{ instanceId: `i-${i}`, address: "127.0.0.1", zone: ZONE }],
      }),
    );
  }
  await writeLastKnownGood(dir, {
    format: 2,
    revision: 1,
    zone: ZONE,
    loadBalancers: lbs,
    addresses,
    savedAt: new Date().toISOString(),
  });
  lbs.length = 0;
  const agent = new Agent({
    agentId: "bench",
    zone: ZONE,
    pool: POOL,
    dataDir: dir,
    controlUrls: ["http://127.0.0.1:9"],
    token: "t",
    logger: silentLogger,
  });
  await agent.start();
  const bound = agent.status().nodes.every((nd) => nd.listeners.every((l) => l.bound));
  // Idle: the first health checks answered, pools and parsers settled.
  await new Promise((r) => setTimeout(r, Number(process.env.BENCH_IDLE_MS ?? 3000)));
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  const sample: Sample & { bound: boolean } = {
    heapUsed: m.heapUsed,
    rss: m.rss,
    external: m.external,
    bound,
  };
  if (process.env.BENCH_MEM_SNAPSHOT) writeHeapSnapshot(process.env.BENCH_MEM_SNAPSHOT);
  if (process.env.BENCH_MEM_DEBUG) {
    process.stderr.write(`${n} ${shape} ${JSON.stringify(m)}\n`);
    for (const sp of getHeapSpaceStatistics())
      process.stderr.write(
        `  ${sp.space_name} size ${(sp.space_size / 1024).toFixed(0)} used ${(sp.space_used_size / 1024).toFixed(0)}\n`,
      );
  }
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  await agent.stop(100);
  backend.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

function measure(n: number, shape: Shape): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      "/bin/sh",
      [
        "-c",
        'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"',
        process.execPath,
        "--expose-gc",
        ...(Number(values["semi-space"]) > 0 ? [`--max-semi-space-size=${values["semi-space"]}`] : []),
        new URL(import.meta.url).pathname,
        "--child",
        String(n),
        "--shape",
        shape,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.once("exit", (code) => {
      const s = JSON.parse(out.trim() || "null") as (Sample & { bound: boolean }) | null;
      if (code !== 0 || s === null) return reject(new Error(`measurement of ${n} exited ${code}`));
      if (!s.bound) return reject(new Error(`not every listener bound at ${n}`));
      resolve(s);
    });
  });
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const sizes = values.lbs.split(",").map(Number);
  const runs = Number(values.runs);
  console.log(
    "| shape | load balancers | heap per LB (KiB) | RSS per LB (KiB) | heap with N (MiB) | RSS with N (MiB) |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const shape of ["node", "bare"] as const) {
    for (const n of sizes) {
      const heap: number[] = [];
      const rss: number[] = [];
      let last: Sample | undefined;
      for (let r = 0; r < runs; r++) {
        const base = await measure(0, shape);
        last = await measure(n, shape);
        heap.push((last.heapUsed - base.heapUsed) / n);
        rss.push((last.rss - base.rss) / n);
      }
      console.log(
        `| ${shape} | ${n} | ${kib(median(heap))} | ${kib(median(rss))} | ${((last?.heapUsed ?? 0) / 2 ** 20).toFixed(1)} | ${((last?.rss ?? 0) / 2 ** 20).toFixed(1)} |`,
      );
    }
  }
}

if (values.child !== undefined) await child(Number(values.child), values.shape === "bare" ? "bare" : "node");
else await main();
