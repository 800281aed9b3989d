/**
 * Traffic history from any replica: two `ballast control` processes on one real PostgreSQL, one
 * agent reporting to replica A only, requests through its node. Replica B, which no agent talks
 * to, answers `GET /admin/v1/load-balancers/web/stats` with the same figures as A: the replicas
 * relay the agents' traffic figures to each other (store/traffic-relay.ts). Before, B's history
 * was empty.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { SignedClient } from "../../src/cli/signed-client.js";
import type { LoadBalancerStats } from "../../src/model/load-balancer-view.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import {
  ACCESS_KEY_ID,
  type ControlReplica,
  MAIN_JS,
  resolveA,
  SECRET_ACCESS_KEY,
  sdkClient,
  startReplica,
  tempDir,
  waitFor,
} from "./support.js";

type Replica = ControlReplica;

/** Requests the replica's history holds for `web` over the last 5 minutes. */
async function requestsSeenBy(r: Replica): Promise<number> {
  const client = new SignedClient(r.apiUrl, {
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
  });
  const stats = await client.json<LoadBalancerStats>("GET", "/admin/v1/load-balancers/web/stats?seconds=300");
  return stats.points.reduce((n, p) => n + p.requestsPerSecond * stats.intervalSeconds, 0);
}

describe("traffic history across PostgreSQL replicas", { timeout: 120_000 }, () => {
  let pg: PostgresServer;
  const procs: ChildProcess[] = [];
  const clients: ElasticLoadBalancingClient[] = [];
  let backend: Server | undefined;

  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    backend?.closeAllConnections();
    backend?.close();
    await pg?.stop();
  });

  it("a replica no agent reports to shows the same traffic as the one they report to", async () => {
    const dirA = tempDir("traffic-a");
    const dirB = tempDir("traffic-b");
    const a = await startReplica(dirA, pg.url);
    procs.push(a.proc);
    for (const f of ["secret.key", "agent-token"]) copyFileSync(join(dirA, f), join(dirB, f));
    const b = await startReplica(dirB, pg.url);
    procs.push(b.proc);

    backend = createServer((req, res) => res.writeHead(200).end(req.url === "/health" ? "ok" : "hello"));
    backend.listen(0, "127.0.0.1");
    await once(backend, "listening");
    const backendPort = (backend.address() as { port: number }).port;

    const pool = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}.0/24`;
    const agent = spawn(
      process.execPath,
      [
        MAIN_JS,
        "agent",
        "--single-process",
        "--zone",
        "us-east-1a",
        "--pool",
        pool,
        "--control",
        a.agentUrl,
        "--token-file",
        join(dirA, "agent-token"),
        "--ca",
        join(dirA, "ca", "ca.crt"),
        "--data-dir",
        tempDir("traffic-agent"),
      ],
      { stdio: "ignore", env: { ...process.env, BALLAST_LOG_LEVEL: "warn" } },
    );
    procs.push(agent);

    const elb = sdkClient(a.apiUrl);
    clients.push(elb);
    const lbPort = 20_000 + Math.floor(Math.random() * 20_000);
    const created = await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "web",
        Listeners: [
          { Protocol: "HTTP", LoadBalancerPort: lbPort, InstanceProtocol: "HTTP", InstancePort: backendPort },
        ],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
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
        Instances: [{ InstanceId: "127.0.0.1" }],
      }),
    );
    const [node] = await waitFor(
      async () => {
        const answer = await resolveA(a.dnsPort, created.DNSName ?? "");
        return answer.length === 1 ? answer : undefined;
      },
      { what: "the node in DNS", timeoutMs: 30_000 },
    );
    // The node serves (its first report of the load balancer, the baseline, is already in).
    await waitFor(async () => (await fetch(`http://${node}:${lbPort}/`)).status === 200, {
      what: "the node to serve",
      timeoutMs: 30_000,
    });
    const REQUESTS = 60;
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`http://${node}:${lbPort}/`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }

    // Finished 5-second intervals only: A shows them within about 10 s, and B the same.
    const seenByA = await waitFor(
      async () => {
        const n = await requestsSeenBy(a);
        return n >= REQUESTS ? n : undefined;
      },
      { what: "A's history to hold the requests", timeoutMs: 30_000, intervalMs: 500 },
    );
    const seenByB = await waitFor(
      async () => {
        const n = await requestsSeenBy(b);
        return n >= seenByA ? n : undefined;
      },
      { what: "B's history to hold them too", timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal(seenByB, await requestsSeenBy(a), "B shows exactly what A shows");
    const relayed = async (r: Replica, direction: string): Promise<number> => {
      const text = await (await fetch(`${r.apiUrl}/metrics`)).text();
      const m = new RegExp(
        `^ballast_traffic_relay_batches_total\\{direction="${direction}"\\} (\\d+)$`,
        "m",
      ).exec(text);
      assert.ok(m, `${direction} is counted`);
      return Number(m[1]);
    };
    assert.ok((await relayed(a, "sent")) > 0);
    assert.ok((await relayed(b, "received")) > 0);
    assert.equal(await relayed(a, "failed"), 0);
  });
});
