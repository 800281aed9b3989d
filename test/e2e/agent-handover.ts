/**
 * Helpers for tests of an agent process under its keeper: one load balancer in a last-known-good
 * file, an agent started on it with no control plane, and a client loop that counts every outcome.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeLastKnownGood } from "../../src/agent/last-known-good.js";
import { fetchRaw, freePort, lbSpec } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";
import { MAIN_JS, tempDir } from "./support.js";

export const ZONE = "us-east-1a";

/** A random 127.A.B.0/24 pool, so parallel tests never share a node address. */
export function randomPool(): { pool: string; node: (n: number) => string } {
  const a = 100 + Math.floor(Math.random() * 100);
  const b = 1 + Math.floor(Math.random() * 250);
  return { pool: `127.${a}.${b}.0/24`, node: (n) => `127.${a}.${b}.${n}` };
}

export interface AgentDir {
  readonly dir: string;
  readonly args: string[];
}

/**
 * A data directory whose last-known-good file serves HTTP load balancers `lbs` (name →
 * address:port; `dnsName` for one its DNS responder answers, under elb.ballast.internal).
 */
export async function agentDir(
  prefix: string,
  pool: string,
  backendPort: number,
  lbs: readonly { name: string; address: string; port: number; dnsName?: string }[],
  extra: readonly string[] = [],
  control?: string,
  healthCheckInterval = 1,
): Promise<AgentDir> {
  const dir = tempDir(prefix);
  const hc = {
    target: `HTTP:${backendPort}/health`,
    interval: healthCheckInterval,
    timeout: 0.5,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
  };
  await writeLastKnownGood(dir, {
    format: 2,
    revision: 3,
    zone: ZONE,
    loadBalancers: lbs.map((lb) =>
      aNodeSpec({
        ...lbSpec(
          lb.name,
          [
            {
              protocol: "HTTP",
              loadBalancerPort: lb.port,
              instanceProtocol: "HTTP",
              instancePort: backendPort,
            },
          ],
          [],
          hc,
        ),
        backends: [{ instanceId: "i-1", address: "127.0.0.1", zone: ZONE }],
        ...(lb.dnsName === undefined ? {} : { dnsName: lb.dnsName }),
      }),
    ),
    addresses: Object.fromEntries(lbs.map((lb) => [lb.name, lb.address])),
    savedAt: new Date().toISOString(),
  });
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "t\n", { mode: 0o600 });
  const deadControlPlane = control ?? `http://127.0.0.1:${await freePort("127.0.0.1")}`;
  return {
    dir,
    args: [
      "agent",
      "--zone",
      ZONE,
      "--pool",
      pool,
      "--control",
      deadControlPlane,
      "--token-file",
      tokenFile,
      "--data-dir",
      dir,
      ...extra,
    ],
  };
}

/** Starts `ballast agent` (its keeper); `prefix` runs it under a wrapper such as prlimit. */
export function startAgent(args: readonly string[], prefix: readonly string[] = []): ChildProcess {
  const argv = [process.execPath, MAIN_JS, ...args];
  const [cmd, ...rest] = [...prefix, ...argv];
  return spawn(cmd ?? process.execPath, rest, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, BALLAST_LOG_LEVEL: "info" },
  });
}

/** Everything the agent process logged on stderr so far. */
export function collectLog(proc: ChildProcess): () => string {
  let out = "";
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return () => out;
}

export function workerPid(dir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, "worker.pid"), "utf8").trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGTERM");
  await exited;
}

/** What a client loop saw. */
export interface Tally {
  ok: number;
  /** ECONNREFUSED: nothing listened. */
  refused: number;
  /** The connection was reset or closed before a response (in flight on a process that died). */
  reset: number;
  /** Answered, but not 200. */
  badStatus: number;
  other: number;
  /** The slowest request that succeeded, ms. */
  maxMs: number;
  readonly errors: string[];
}

/**
 * `concurrency` loops, each sending one request per fresh connection until `stop()` resolves
 * (bounded by `maxRequests` in all).
 */
export function clientLoop(
  host: string,
  port: number,
  concurrency: number,
  maxRequests = 200_000,
): { tally: Tally; stop: () => Promise<Tally> } {
  const tally: Tally = { ok: 0, refused: 0, reset: 0, badStatus: 0, other: 0, maxMs: 0, errors: [] };
  let running = true;
  let sent = 0;
  const loop = async (): Promise<void> => {
    while (running && sent < maxRequests) {
      sent++;
      const t0 = performance.now();
      try {
        const r = await fetchRaw(host, port, "/");
        if (r.status === 200) {
          tally.ok++;
          tally.maxMs = Math.max(tally.maxMs, performance.now() - t0);
        } else tally.badStatus++;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        if (code === "ECONNREFUSED") tally.refused++;
        else if (code === "ECONNRESET" || /socket hang up/.test(String(e))) tally.reset++;
        else tally.other++;
        if (tally.errors.length < 20) tally.errors.push(code);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    tally,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return tally;
    },
  };
}
