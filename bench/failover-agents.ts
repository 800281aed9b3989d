/**
 * Node failover: one `ballast control` and three `ballast agent`s of zone us-east-1a, each in a
 * network namespace of its own (test/e2e/netns.ts; names carry this process's pid and are removed
 * at the end; loopback addresses when namespaces cannot be made), every agent over TLS with its
 * own key. One load balancer has its node on one agent. Each trial SIGKILLs that agent (run with
 * `--single-process`, so the kill takes the whole agent down at once, as a host failure does) and
 * measures, from the kill:
 *   - placement moved: the journal has a `FailoverNodes` revision (the placement entity's new
 *     revision), polled through `GET /admin/v1/state/history` every 25 ms;
 *   - DNS: the control plane's DNS answer for the load balancer's name is not empty and no longer
 *     holds the dead node's address (polled every 25 ms).
 * The killed agent then starts again (same data directory: it is live again, and nothing moves
 * back to it). Then the breaker: two of the three agents (the node's among them) are killed at
 * once; the benchmark records when the `failover-suspended` alarm appears and that no
 * `FailoverNodes` revision follows within the timeout plus 5 s.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { type HostAddress, Network } from "../test/e2e/netns.js";
import { resolveA } from "../test/e2e/support.js";
import { admin, ballastEnv, MAIN, Proc, progress, sdk, sleep, until } from "./failover-support.js";

const ZONE = "us-east-1a";
const LB_PORT = 8080;
const AGENTS = ["a1", "a2", "a3"] as const;

export interface NodeTrial {
  readonly placementMs: number;
  readonly dnsMs: number;
  readonly revision: number;
}

export interface BreakerRun {
  readonly alarmMs: number;
  readonly moved: boolean;
  readonly message: string;
}

export interface NodeFailoverResult {
  readonly timeoutSeconds: number;
  readonly trials: NodeTrial[];
  readonly breaker: BreakerRun;
}

interface History {
  readonly head: number;
  readonly revisions: readonly { number: number; action: string }[];
}

/** Runs every timeout setting on one network; `why` says namespaces or loopback. */
export async function nodeFailover(
  timeouts: readonly number[],
  trials: number,
): Promise<{ why: string; results: NodeFailoverResult[] }> {
  const { network, why } = Network.create(AGENTS.length + 1);
  progress(`node failover runs on ${why}`);
  const backend: Server = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200).end("ok");
    else res.writeHead(200).end("hello");
  });
  try {
    await new Promise<void>((r) => backend.listen(0, network.gateway, r));
    const backendPort = (backend.address() as { port: number }).port;
    const results: NodeFailoverResult[] = [];
    for (const timeout of timeouts) results.push(await oneSetting(network, backendPort, timeout, trials));
    return { why, results };
  } finally {
    backend.closeAllConnections();
    backend.close();
    network.remove();
  }
}

async function oneSetting(
  network: Network,
  backendPort: number,
  timeoutSeconds: number,
  trials: number,
): Promise<NodeFailoverResult> {
  const [cpHost, ...agentHosts] = network.hosts as [HostAddress, ...HostAddress[]];
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-bench-nodes-"));
  const base = network.isolated ? 9700 : 20_000 + Math.floor(Math.random() * 20_000);
  const apiUrl = `http://${cpHost.address}:${base}`;
  const agentUrl = `https://${cpHost.address}:${base + 1}`;
  const dnsPort = base + 2;
  const control = new Proc(
    network.spawnOn(
      cpHost,
      process.execPath,
      [
        MAIN,
        "control",
        "--host",
        cpHost.address,
        "--data-dir",
        dataDir,
        "--api-port",
        String(base),
        "--agent-port",
        String(base + 1),
        "--dns-port",
        String(dnsPort),
        "--zones",
        ZONE,
        "--failover-timeout",
        String(timeoutSeconds),
      ],
      ballastEnv(),
    ),
  );
  const agents = new Map<string, Proc>();
  const hostOf = new Map<string, HostAddress>(AGENTS.map((n, i) => [n, agentHosts[i] as HostAddress]));
  const client = admin(apiUrl);
  const elb = sdk(apiUrl);
  const startAgent = async (name: string): Promise<void> => {
    const host = hostOf.get(name) as HostAddress;
    const p = new Proc(
      network.spawnOn(
        host,
        process.execPath,
        [
          MAIN,
          "agent",
          "--single-process",
          "--control",
          agentUrl,
          "--credentials",
          join(dataDir, `${name}.json`),
          "--ca",
          join(dataDir, "ca", "ca.crt"),
          "--region",
          "us-east-1",
          "--pool",
          host.pool,
          "--data-dir",
          join(dataDir, `agent-${name}`),
        ],
        ballastEnv(),
      ),
    );
    agents.set(name, p);
    await p.waitFor(/agent started/);
  };
  const fresh = async (): Promise<Set<string>> => {
    const { agents: rows } = await client.json<{ agents: { agentId: string; fresh: boolean }[] }>(
      "GET",
      "/admin/v1/agents",
    );
    return new Set(rows.filter((r) => r.fresh).map((r) => r.agentId));
  };
  const history = (): Promise<History> => client.json<History>("GET", "/admin/v1/state/history?limit=20");
  const failoverAfter = async (head: number): Promise<number | undefined> =>
    (await history()).revisions.find((r) => r.number > head && r.action === "FailoverNodes")?.number;
  const holderOf = (addresses: readonly string[]): string | undefined =>
    AGENTS.find((n) => {
      const pool = (hostOf.get(n) as HostAddress).pool;
      const prefix = pool.slice(0, pool.lastIndexOf(".") + 1);
      return addresses.some((a) => a.startsWith(prefix));
    });

  try {
    await control.waitFor(/agents verify the agent channel with --ca/);
    // A fresh installation, no load balancer yet: the agents' keys need no change ticket.
    for (const name of AGENTS) {
      const r = await client.json<{ credentials: unknown }>("POST", `/admin/v1/agent-keys/${name}`, {
        zone: ZONE,
      });
      writeFileSync(join(dataDir, `${name}.json`), JSON.stringify(r.credentials), { mode: 0o600 });
    }
    for (const name of AGENTS) await startAgent(name);
    const created = await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "web",
        Listeners: [
          {
            Protocol: "HTTP",
            LoadBalancerPort: LB_PORT,
            InstanceProtocol: "HTTP",
            InstancePort: backendPort,
          },
        ],
        AvailabilityZones: [ZONE],
      }),
    );
    const dnsName = created.DNSName ?? "";
    await elb.send(
      new ConfigureHealthCheckCommand({
        LoadBalancerName: "web",
        HealthCheck: {
          Target: `HTTP:${backendPort}/health`,
          Interval: 5,
          Timeout: 2,
          UnhealthyThreshold: 2,
          HealthyThreshold: 2,
        },
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: network.gateway }],
      }),
    );
    const dns = (): Promise<string[]> => resolveA(dnsPort, dnsName, cpHost.address);
    await until(async () => holderOf(await dns()), "the load balancer's node in DNS", 60_000, 100);
    // The fleet runs frozen for one timeout after it starts: wait that out, and for all three live.
    await sleep(timeoutSeconds * 1000);
    await until(async () => (await fresh()).size === AGENTS.length, "three live agents", 30_000, 100);

    const results: NodeTrial[] = [];
    for (let t = 0; t < trials; t++) {
      const before = await dns();
      const holder = holderOf(before);
      if (holder === undefined || before.length !== 1)
        throw new Error(`unexpected DNS answer ${before.join(",")}`);
      const dead = before[0] as string;
      const { head } = await history();
      const killedAt = performance.now();
      await (agents.get(holder) as Proc).kill("SIGKILL");
      const limit = (timeoutSeconds * 3 + 30) * 1000;
      const [placed, answered] = await Promise.all([
        until(
          async () => {
            const revision = await failoverAfter(head);
            return revision === undefined ? undefined : { at: performance.now(), revision };
          },
          "placement to move",
          limit,
          25,
        ),
        until(
          async () => {
            const a = await dns();
            return a.length > 0 && !a.includes(dead) ? performance.now() : undefined;
          },
          "DNS without the dead node",
          limit,
          25,
        ),
      ]);
      const trial = {
        placementMs: placed.at - killedAt,
        dnsMs: answered - killedAt,
        revision: placed.revision,
      };
      results.push(trial);
      progress(
        `timeout ${timeoutSeconds} s, trial ${t + 1}/${trials}: ${holder} killed; placement moved in ${trial.placementMs.toFixed(0)} ms (revision ${trial.revision}), DNS in ${trial.dnsMs.toFixed(0)} ms`,
      );
      await startAgent(holder);
      await until(async () => (await fresh()).has(holder), `${holder} live again`, 30_000, 100);
    }

    // The breaker: two of three agents at once, the node's among them.
    const holder = holderOf(await dns()) as string;
    const other = AGENTS.find((n) => n !== holder) as string;
    const { head } = await history();
    const killedAt = performance.now();
    await Promise.all([
      (agents.get(holder) as Proc).kill("SIGKILL"),
      (agents.get(other) as Proc).kill("SIGKILL"),
    ]);
    const alarm = await until(
      async () =>
        (
          await client.json<{ fleet?: { kind: string; message: string }[] }>("GET", "/admin/v1/alarms")
        ).fleet?.find((a) => a.kind === "failover-suspended"),
      "the breaker's alarm",
      (timeoutSeconds * 3 + 30) * 1000,
      25,
    );
    const alarmMs = performance.now() - killedAt;
    await sleep((timeoutSeconds + 5) * 1000);
    const moved = (await failoverAfter(head)) !== undefined;
    progress(`timeout ${timeoutSeconds} s, breaker: alarm after ${alarmMs.toFixed(0)} ms; moved: ${moved}`);
    return { timeoutSeconds, trials: results, breaker: { alarmMs, moved, message: alarm.message } };
  } finally {
    elb.destroy();
    for (const p of agents.values()) await p.kill("SIGKILL");
    await control.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  }
}
