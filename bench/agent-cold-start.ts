/**
 * An agent's cold start with the control plane down: the agent (keeper and worker) is SIGKILLed,
 * started again on the same data directory, and timed from its spawn to the first request served
 * from its last-known-good configuration (one HTTP load balancer, one back end).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/agent-cold-start.js [--runs 5] [--main A.js,B.js] [--lbs N]
 *
 * `--lbs N` (default 1) gives the last-known-good N load balancers, each on an address of its own
 * in a /16 pool (health checks every 30 s, so the checks do not swamp the start); "served" is then
 * a TCP connection accepted, timed to the first and to the LAST load balancer, since under the
 * keeper every listening socket is passed to the worker over IPC, one at a time.
 *
 * `--main` lists the `ballast` entry points to compare (default: this tree's); with several, the
 * runs interleave (A, B, A, B…) so every variant sees the same load on the machine. Each run
 * starts the agent once (so caches a start leaves behind are there, as after any earlier start),
 * kills keeper and worker with SIGKILL, then times the start that follows. Prints each figure
 * and the median per entry point. Nothing here asserts a number.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { agentDir, randomPool } from "../test/e2e/agent-handover.js";
import { MAIN_JS } from "../test/e2e/support.js";
import { closeServer, echoBackend, fetchRaw, freePort } from "../test/proxy/helpers.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    main: { type: "string" },
    lbs: { type: "string", default: "1" },
  },
});
const runs = Number(values.runs);
const lbCount = Number(values.lbs);
if (!Number.isInteger(lbCount) || lbCount < 1 || lbCount > 60_000) throw new Error("--lbs is 1 to 60000");
const mains = (values.main ?? MAIN_JS).split(",").map((m) => resolve(m));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(main: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [main, ...args], { stdio: "ignore" });
}

/** A TCP connection to host:port is accepted (the listening socket is there and served). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Since `since`: one load balancer answers a request with 200 (N = 1), or, with many, accepts a
 * connection (their back ends' first health checks, every 30 s there, are not what is timed).
 */
async function firstServed(host: string, port: number, since: number, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    try {
      if (lbCount > 1 ? await accepts(host, port) : (await fetchRaw(host, port, "/")).status === 200)
        return performance.now() - since;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - since > timeoutMs) throw new Error(`not served within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function pidIn(dir: string, file: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, file), "utf8").trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined; // Not written yet: the process it would name is killed through `proc`.
  }
}

function killAll(dir: string, proc: ChildProcess): void {
  for (const pid of [pidIn(dir, "worker.pid"), pidIn(dir, "agent.pid"), proc.pid]) {
    try {
      if (pid !== undefined) process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** N load balancers on addresses of a random 127.A.0.0/16 (one, from randomPool, for N = 1). */
function layout(n: number): { pool: string; lbs: { name: string; address: string; port: number }[] } {
  if (n === 1) {
    const { pool, node } = randomPool();
    return { pool, lbs: [{ name: "web", address: node(1), port: 0 }] };
  }
  const a = 100 + Math.floor(Math.random() * 100);
  const lbs = Array.from({ length: n }, (_, i) => {
    const k = i + 1;
    return { name: `lb-${k}`, address: `127.${a}.${Math.floor(k / 254)}.${(k % 254) + 1}`, port: 0 };
  });
  return { pool: `127.${a}.0.0/16`, lbs };
}

/** Spawn → first load balancer served, and → last one served. */
async function once(main: string): Promise<{ first: number; last: number }> {
  const backend = await echoBackend("b0", "127.0.0.1");
  const { pool, lbs } = layout(lbCount);
  const port = await freePort(lbs[0]?.address ?? "127.0.0.1");
  for (const lb of lbs) lb.port = port;
  const firstLb = lbs[0] as { address: string; port: number };
  const lastLb = lbs.at(-1) as { address: string; port: number };
  const interval = lbCount === 1 ? 1 : 30;
  const agent = await agentDir("cold-start", pool, backend.port, lbs, [], undefined, interval);
  const timeoutMs = Math.max(30_000, lbCount * 20);
  let running: ChildProcess | undefined;
  try {
    running = start(main, agent.args);
    await firstServed(lastLb.address, lastLb.port, performance.now(), timeoutMs);
    killAll(agent.dir, running);
    await sleep(300);
    const t0 = performance.now();
    running = start(main, agent.args);
    const served = await firstServed(firstLb.address, firstLb.port, t0, timeoutMs);
    const all = await firstServed(lastLb.address, lastLb.port, t0, timeoutMs);
    return { first: served, last: all };
  } finally {
    // Also when a start fails to serve in time: no agent of this run outlives it.
    if (running !== undefined) killAll(agent.dir, running);
    await closeServer(backend.server);
    rmSync(agent.dir, { recursive: true, force: true });
  }
}

const figures = new Map<string, { first: number[]; last: number[] }>(
  mains.map((m) => [m, { first: [], last: [] }]),
);
for (let i = 0; i < runs; i++) {
  for (const main of mains) {
    const { first, last } = await once(main);
    figures.get(main)?.first.push(first);
    figures.get(main)?.last.push(last);
    const tail = lbCount === 1 ? "" : `, all ${lbCount} served after ${Math.round(last)} ms`;
    process.stdout.write(`run ${i + 1} ${main}: ${Math.round(first)} ms${tail}\n`);
  }
}
const line = (ms: readonly number[]): string => {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return `${sorted.map((m) => (m / 1000).toFixed(2)).join(", ")} s (median ${(median / 1000).toFixed(2)} s)`;
};
for (const [main, { first, last }] of figures) {
  process.stdout.write(`${main}: ${line(first)}\n`);
  if (lbCount > 1) process.stdout.write(`${main}, all ${lbCount} load balancers: ${line(last)}\n`);
}
