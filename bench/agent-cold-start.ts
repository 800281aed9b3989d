/**
 * An agent's cold start with the control plane down: the agent (keeper and worker) is SIGKILLed,
 * started again on the same data directory, and timed from its spawn to the first request served
 * from its last-known-good configuration (one HTTP load balancer, one back end).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/agent-cold-start.js [--runs 5] [--main A.js,B.js]
 *
 * `--main` lists the `ballast` entry points to compare (default: this tree's); with several, the
 * runs interleave (A, B, A, B…) so every variant sees the same load on the machine. Each run
 * starts the agent once (so caches a start leaves behind are there, as after any earlier start),
 * kills keeper and worker with SIGKILL, then times the start that follows. Prints each figure
 * and the median per entry point. Nothing here asserts a number.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { agentDir, randomPool } from "../test/e2e/agent-handover.js";
import { MAIN_JS } from "../test/e2e/support.js";
import { closeServer, echoBackend, fetchRaw, freePort } from "../test/proxy/helpers.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "5" }, main: { type: "string" } },
});
const runs = Number(values.runs);
const mains = (values.main ?? MAIN_JS).split(",").map((m) => resolve(m));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(main: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [main, ...args], { stdio: "ignore" });
}

async function firstServed(host: string, port: number, since: number, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    try {
      if ((await fetchRaw(host, port, "/")).status === 200) return performance.now() - since;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - since > timeoutMs) throw new Error(`not served within ${timeoutMs} ms`);
    await sleep(5);
  }
}

function pidIn(dir: string, file: string): number | undefined {
  const n = Number(readFileSync(join(dir, file), "utf8").trim());
  return n > 0 ? n : undefined;
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

async function once(main: string): Promise<number> {
  const backend = await echoBackend("b0", "127.0.0.1");
  const { pool, node } = randomPool();
  const host = node(1);
  const port = await freePort(host);
  const agent = await agentDir("cold-start", pool, backend.port, [{ name: "web", address: host, port }]);
  try {
    const first = start(main, agent.args);
    await firstServed(host, port, performance.now());
    killAll(agent.dir, first);
    await sleep(300);
    const t0 = performance.now();
    const again = start(main, agent.args);
    const ms = await firstServed(host, port, t0);
    killAll(agent.dir, again);
    return ms;
  } finally {
    await closeServer(backend.server);
    rmSync(agent.dir, { recursive: true, force: true });
  }
}

const figures = new Map<string, number[]>(mains.map((m) => [m, []]));
for (let i = 0; i < runs; i++) {
  for (const main of mains) {
    const ms = await once(main);
    figures.get(main)?.push(ms);
    process.stdout.write(`run ${i + 1} ${main}: ${Math.round(ms)} ms\n`);
  }
}
for (const [main, ms] of figures) {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  process.stdout.write(
    `${main}: ${sorted.map((m) => (m / 1000).toFixed(2)).join(", ")} s (median ${(median / 1000).toFixed(2)} s)\n`,
  );
}
