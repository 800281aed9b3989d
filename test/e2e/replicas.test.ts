/**
 * A highly available control plane: two `ballast control` processes on one real PostgreSQL server
 * both serve the API; exactly one is the active controller. The active one is killed with SIGKILL
 * under a steady stream of API changes spread over both; the other takes over within 5 s, changes
 * keep flowing through it, and the journal verifies afterwards.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { once } from "node:events";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { SignedClient } from "../../src/cli/signed-client.js";
import type { ControlPlanesView } from "../../src/model/leadership.js";
import { openStore } from "../../src/store/open.js";
import { verifyJournal } from "../../src/store/ops/verify.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import {
  ACCESS_KEY_ID,
  type ControlReplica,
  MAIN_JS,
  SECRET_ACCESS_KEY,
  sdkClient,
  startReplica,
  tempDir,
  waitFor,
} from "./support.js";

type Replica = ControlReplica;

/** `ballast_controller_active` from the replica's own /metrics. */
async function activeMetric(r: Replica): Promise<number> {
  const text = await (await fetch(`${r.apiUrl}/metrics`)).text();
  const m = /^ballast_controller_active (\d+)$/m.exec(text);
  assert.ok(m, "the metric is served");
  return Number(m[1]);
}

async function admin<T>(r: Replica, path: string): Promise<T> {
  const client = new SignedClient(r.apiUrl, {
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
  });
  const res = await client.send("GET", path);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body) as T;
}

const controlPlanes = (r: Replica) => admin<ControlPlanesView>(r, "/admin/v1/control-planes");
/** The replica's last state check (null: its state monitor never ran). */
const stateCheck = async (r: Replica) =>
  (await admin<{ state: { checkedAt: string } | null }>(r, "/admin/v1/alarms")).state;

describe("control-plane replicas on PostgreSQL", () => {
  let pg: PostgresServer;
  const procs: ChildProcess[] = [];
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await pg?.stop();
  });

  it("hands the controller over within 5 s of a SIGKILL while changes keep flowing", async () => {
    const dirA = tempDir("replica-a");
    const dirB = tempDir("replica-b");
    const a = await startReplica(dirA, pg.url, { BALLAST_LOG_LEVEL: "info" });
    procs.push(a.proc);
    // Replicas share the secret key and the agent token (docs/OPERATIONS.md): copied, not regenerated.
    for (const f of ["secret.key", "agent-token"]) copyFileSync(join(dirA, f), join(dirB, f));
    const b = await startReplica(dirB, pg.url, { BALLAST_LOG_LEVEL: "info" });
    procs.push(b.proc);

    // Exactly one active: the first to start.
    await waitFor(async () => (await activeMetric(a)) === 1, { what: "replica A to become active" });
    assert.equal(await activeMetric(b), 0);
    const view = await controlPlanes(b);
    assert.equal(view.self.active, false);
    assert.equal(view.replicas.length, 2);
    assert.deepEqual(
      view.replicas.filter((r) => r.active).map((r) => r.id.split(":")[1]),
      [new URL(a.apiUrl).port],
      "B names A as the active controller",
    );

    // A write through A is read through B.
    const elbA = sdkClient(a.apiUrl);
    const elbB = sdkClient(b.apiUrl);
    const create = (name: string) =>
      new CreateLoadBalancerCommand({
        LoadBalancerName: name,
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 8080 }],
        AvailabilityZones: ["us-east-1a"],
      });
    await elbA.send(create("through-a"));
    await waitFor(
      async () =>
        (await elbB.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["through-a"] })))
          .LoadBalancerDescriptions?.length === 1,
      { timeoutMs: 5000, intervalMs: 10, what: "B to read A's write" },
    );

    // A steady stream of changes over both replicas: each writer owns a load balancer and changes
    // its health check interval call after call; it moves to B once A is gone.
    const WRITERS = 6;
    for (let w = 0; w < WRITERS; w++) await elbA.send(create(`lb-${w}`));
    let stop = false;
    let killedAt = 0;
    let acked = 0;
    let survivorAcked = 0;
    const lastAcked = new Map<string, number>();
    const survivorFailures: string[] = [];
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const name = `lb-${w}`;
        const interval = 5 + (i % 50);
        const viaA = w % 2 === 0 && a.proc.exitCode === null && a.proc.signalCode === null;
        try {
          await (viaA ? elbA : elbB).send(
            new ConfigureHealthCheckCommand({
              LoadBalancerName: name,
              HealthCheck: {
                Target: "TCP:8080",
                Interval: interval,
                Timeout: 2,
                HealthyThreshold: 2,
                UnhealthyThreshold: 2,
              },
            }),
          );
          acked++;
          lastAcked.set(name, interval);
          if (!viaA && killedAt > 0) survivorAcked++;
        } catch (e) {
          // Through the killed replica a call may die unanswered; through the survivor none may fail.
          if (!viaA) survivorFailures.push(`${name}: ${(e as Error).message}`);
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await waitFor(async () => acked >= 60, { timeoutMs: 30_000, what: "writes before the kill" });

    // Only the active controller runs the workflows: A scheduled backups, B did not. Both check
    // the state (each must know by itself when to refuse changes).
    assert.match(a.output(), /backups scheduled/);
    assert.doesNotMatch(b.output(), /backups scheduled/);
    await waitFor(async () => (await stateCheck(b)) !== null, { what: "B's state check" });
    a.proc.kill("SIGKILL");
    killedAt = performance.now();
    await once(a.proc, "exit");
    await waitFor(async () => (await activeMetric(b)) === 1, {
      timeoutMs: 5000,
      intervalMs: 20,
      what: "replica B to become the active controller",
    });
    const takeoverMs = performance.now() - killedAt;
    process.stderr.write(`# takeover after SIGKILL: ${takeoverMs.toFixed(0)} ms\n`);
    assert.ok(takeoverMs < 5000);
    await waitFor(async () => survivorAcked >= 30, { timeoutMs: 20_000, what: "writes through B" });
    stop = true;
    await Promise.all(writers);
    assert.deepEqual(survivorFailures, []);

    const after = await controlPlanes(b);
    assert.equal(after.self.active, true);
    assert.equal(after.replicas.length, 1);
    assert.match(b.output(), /this replica is now the active controller/);
    // The command operators use says the same.
    const cli = spawnSync(process.execPath, [MAIN_JS, "control-planes", "--endpoint", b.apiUrl], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY },
      encoding: "utf8",
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /\(this one\)\s+active controller/);
    await waitFor(async () => /backups scheduled/.test(b.output()), {
      timeoutMs: 5000,
      what: "B's backups to be scheduled",
    });

    // Every writer's last acknowledged change is what the survivor reads, and the journal verifies.
    const described = await elbB.send(
      new DescribeLoadBalancersCommand({ LoadBalancerNames: [...lastAcked.keys()] }),
    );
    for (const d of described.LoadBalancerDescriptions ?? [])
      assert.equal(d.HealthCheck?.Interval, lastAcked.get(d.LoadBalancerName ?? ""), d.LoadBalancerName);
    assert.equal(described.LoadBalancerDescriptions?.length, WRITERS);
    const db = await openStore(pg.url, dirB);
    try {
      const report = await verifyJournal(db, { maxDivergences: 10 });
      assert.equal(report.ok, true, JSON.stringify(report.divergences));
    } finally {
      await db.close();
    }
    b.proc.kill("SIGTERM");
    await once(b.proc, "exit");
  });
});
