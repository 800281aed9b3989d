/**
 * Whole-system harness: runs the real `ballast up` as a child process on free loopback ports,
 * real back ends, and a resolver pointed at Ballast's DNS responder.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  ElasticLoadBalancingClient,
  type Instance,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";

export const MAIN_JS = resolve(import.meta.dirname, "../../src/cli/main.js");
export const ACCESS_KEY_ID = "AKIAE2ETESTKEY000001";
export const SECRET_ACCESS_KEY = "e2e-test-secret-key-0123456789abcdefghij";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ballast-${prefix}-`));
}

export interface UpOptions {
  readonly dataDir: string;
  /** Second octet of the agents' pools: zone a gets 127.0.N.0/24, zone b 127.0.N+1.0/24. */
  readonly poolOctet: number;
  readonly apiPort?: number;
  readonly agentPort?: number;
  readonly dnsPort?: number;
  /** `--store` (default: SQLite in the data directory), e.g. a `postgres://` URL. */
  readonly store?: string;
}

export interface RunningUp {
  readonly proc: ChildProcess;
  readonly apiUrl: string;
  readonly apiPort: number;
  readonly agentPort: number;
  readonly dnsPort: number;
  readonly output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `ballast up`. Ports not given are 0 — the system picks free ones and `up` prints them —
 * so no other process can take a port between choosing it and binding it.
 */
export async function startUp(opts: UpOptions): Promise<RunningUp> {
  const { proc, output } = await startBallast(
    [
      "up",
      "--data-dir",
      opts.dataDir,
      "--api-port",
      String(opts.apiPort ?? 0),
      "--agent-port",
      String(opts.agentPort ?? 0),
      "--dns-port",
      String(opts.dnsPort ?? 0),
      "--agents",
      `us-east-1a=127.0.${opts.poolOctet}.0/24,us-east-1b=127.0.${opts.poolOctet + 1}.0/24`,
      ...(opts.store === undefined ? [] : ["--store", opts.store]),
    ],
    "Ballast is up.",
  );
  const printed = (pattern: RegExp): number => {
    const port = Number(pattern.exec(output())?.[1]);
    if (!Number.isInteger(port) || port <= 0)
      throw new Error(`ballast up printed no ${pattern}:\n${output()}`);
    return port;
  };
  const apiPort = printed(/AWS ELB API\s+http:\/\/127\.0\.0\.1:(\d+)/);
  const agentPort = printed(/agent channel\s+http:\/\/127\.0\.0\.1:(\d+)/);
  const dnsPort = printed(/DNS responder\s+127\.0\.0\.1:(\d+)/);
  return {
    proc,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    apiPort,
    agentPort,
    dnsPort,
    output,
    stop: async (signal: NodeJS.Signals = "SIGINT") => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, "exit");
      proc.kill(signal);
      await exited;
    },
  };
}

/**
 * Spawns `ballast <args>` with the test administrator's bootstrap key and resolves once its
 * output contains `ready`.
 */
/** A `ballast control` replica started by a test, with the addresses its start line names. */
export interface ControlReplica {
  readonly proc: ChildProcess;
  readonly apiUrl: string;
  readonly agentUrl: string;
  readonly dnsPort: number;
  readonly output: () => string;
}

/**
 * `ballast control` on `store` (a PostgreSQL URL for replicas) with every port chosen by the
 * system, ready when it prints its addresses. A replica that fails to start is killed before the
 * assertion, so it cannot keep the test process alive.
 */
export async function startReplica(
  dataDir: string,
  store: string,
  env: NodeJS.ProcessEnv = {},
): Promise<ControlReplica> {
  const { proc, output } = await startBallast(
    [
      "control",
      "--data-dir",
      dataDir,
      "--store",
      store,
      "--api-port",
      "0",
      "--agent-port",
      "0",
      "--dns-port",
      "0",
    ],
    "control plane: API",
    env,
  );
  const m = /control plane: API (http:\/\/\S+), agent channel (https?:\/\/\S+), DNS \S+:(\d+)/.exec(output());
  if (!m?.[1] || !m[2] || !m[3]) proc.kill("SIGKILL");
  assert.ok(m?.[1] && m[2] && m[3], output());
  return { proc, apiUrl: m[1], agentUrl: m[2], dnsPort: Number(m[3]), output };
}

export async function startBallast(
  args: readonly string[],
  ready: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ proc: ChildProcess; output: () => string }> {
  const proc = spawn(process.execPath, [MAIN_JS, ...args], {
    env: {
      ...process.env,
      BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
      BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      BALLAST_LOG_LEVEL: process.env.BALLAST_LOG_LEVEL ?? "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`ballast ${args[0]} exited ${proc.exitCode}:\n${out}`);
      return out.includes(ready);
    },
    { timeoutMs: 30_000, what: `ballast ${args[0]} to start` },
  );
  return { proc, output: () => out };
}

export function sdkClient(apiUrl: string): ElasticLoadBalancingClient {
  return new ElasticLoadBalancingClient({
    endpoint: apiUrl,
    region: "us-east-1",
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
}

export async function waitFor<T>(
  probe: () => Promise<T | false | undefined>,
  { timeoutMs = 20_000, intervalMs = 200, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== false && v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export async function resolveA(dnsPort: number, name: string, host = "127.0.0.1"): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([`${host}:${dnsPort}`]);
  return (await r.resolve4(name)).sort();
}

/** Creates `name` with one HTTP listener (lbPort → instancePort) in us-east-1a and us-east-1b; returns its DNS name. */
export async function createHttpLoadBalancer(
  elb: ElasticLoadBalancingClient,
  name: string,
  lbPort: number,
  instancePort: number,
): Promise<string> {
  const created = await elb.send(
    new CreateLoadBalancerCommand({
      LoadBalancerName: name,
      Listeners: [
        { Protocol: "HTTP", LoadBalancerPort: lbPort, InstanceProtocol: "HTTP", InstancePort: instancePort },
      ],
      AvailabilityZones: ["us-east-1a", "us-east-1b"],
    }),
  );
  return created.DNSName ?? "";
}

/** Waits until Ballast's DNS answers `count` node addresses for `dnsName`, and returns them. */
export function nodesInDns(dnsPort: number, dnsName: string, count: number): Promise<string[]> {
  return waitFor(
    async () => {
      const a = await resolveA(dnsPort, dnsName);
      return a.length === count ? a : false;
    },
    { what: `${count} node addresses in DNS` },
  );
}

/**
 * Gives `name` an HTTP health check on `/health` of `port` (5 s interval, thresholds 2), registers
 * `backends` by address and waits until every one is InService; returns what RegisterInstances answered.
 */
export async function registerInService(
  elb: ElasticLoadBalancingClient,
  name: string,
  backends: readonly Backend[],
  port: number,
): Promise<Instance[]> {
  await elb.send(
    new ConfigureHealthCheckCommand({
      LoadBalancerName: name,
      HealthCheck: {
        Target: `HTTP:${port}/health`,
        Interval: 5,
        Timeout: 2,
        UnhealthyThreshold: 2,
        HealthyThreshold: 2,
      },
    }),
  );
  const reg = await elb.send(
    new RegisterInstancesWithLoadBalancerCommand({
      LoadBalancerName: name,
      Instances: backends.map((b) => ({ InstanceId: b.address })),
    }),
  );
  await waitFor(
    async () => {
      const h = await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: name }));
      const states = h.InstanceStates ?? [];
      return states.length === backends.length && states.every((st) => st.State === "InService");
    },
    { what: `all ${backends.length} back ends InService` },
  );
  return reg.Instances ?? [];
}

/** An HTTP back end that answers with its own name and counts the requests it served. */
export class Backend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  hits = 0;
  healthy = true;
  #server: Server | undefined;

  constructor(name: string, address: string, port: number) {
    this.name = name;
    this.address = address;
    this.port = port;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      if (req.url === "/health") {
        res.writeHead(this.healthy ? 200 : 500).end(this.healthy ? "ok" : "sick");
        return;
      }
      this.hits += 1;
      res.writeHead(200, { "content-type": "text/plain", "x-backend": this.name });
      res.end(JSON.stringify({ backend: this.name, xff: req.headers["x-forwarded-for"] ?? null }));
    });
    this.#server.listen(this.port, this.address);
    await once(this.#server, "listening");
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    this.#server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** GETs `/` through each address in turn, `count` times; returns the back-end name per reply. */
export async function spray(addresses: readonly string[], port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const addr = addresses[i % addresses.length];
    const res = await fetch(`http://${addr}:${port}/`);
    names.push(res.headers.get("x-backend") ?? `status-${res.status}`);
    await res.arrayBuffer();
  }
  return names;
}

/**
 * Resolves `name` at Ballast's DNS responder and sprays through the nodes it answers, as a client
 * would: with cross-zone load balancing off, DNS leaves out a node whose zone has no InService
 * back end.
 */
export async function sprayDns(
  dnsPort: number,
  name: string,
  port: number,
  count: number,
): Promise<string[]> {
  return spray(await resolveA(dnsPort, name), port, count);
}
