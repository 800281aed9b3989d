/**
 * Controller failover: two `ballast control` replicas on one throwaway PostgreSQL. Each trial
 * SIGKILLs the active controller while writers keep changing load balancers through both
 * replicas (a bounded loop), and measures, from the kill:
 *   - takeover: the survivor's `ballast_controller_active` reads 1 (its /metrics, polled every 10 ms);
 *   - first mutation: the first ConfigureHealthCheck sent to the survivor after the kill returns;
 *   - the calls through the survivor that failed, from the writers' start to their end.
 * The killed replica then starts again (same data directory) as the standby of the next trial,
 * which kills the other one.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  type ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import type { ControlPlanesView } from "../src/model/leadership.js";
import { startPostgres } from "../test/support/postgres.js";
import { admin, ballastEnv, MAIN, Proc, progress, sdk, sleep, until } from "./failover-support.js";

export interface ControllerTrial {
  readonly takeoverMs: number;
  readonly firstMutationMs: number;
  /** Median time a call through the survivor took before the kill: what "first mutation" compares with. */
  readonly beforeKillCallMs: number;
  readonly survivorCalls: number;
  readonly survivorFailures: number;
  readonly survivorFailureSamples: readonly string[];
}

interface Replica {
  readonly proc: Proc;
  readonly dir: string;
  readonly apiUrl: string;
  readonly elb: ElasticLoadBalancingClient;
}

const WRITERS_PER_REPLICA = 2;
/** Calls per writer per trial at most: the loop is bounded even if a stop never came. */
const MAX_CALLS = 20_000;

async function startReplica(dir: string, store: string): Promise<Replica> {
  const proc = new Proc(
    spawn(
      process.execPath,
      [
        MAIN,
        "control",
        "--data-dir",
        dir,
        "--store",
        store,
        "--api-port",
        "0",
        "--agent-port",
        "0",
        "--dns-port",
        "0",
      ],
      { env: ballastEnv(), stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  const m = await proc.waitFor(/control plane: API (http:\/\/127\.0\.0\.1:\d+)/);
  const apiUrl = m[1] as string;
  return { proc, dir, apiUrl, elb: sdk(apiUrl) };
}

async function isActive(r: Replica): Promise<boolean> {
  const text = await (await fetch(`${r.apiUrl}/metrics`)).text();
  return /^ballast_controller_active 1$/m.test(text);
}

export async function controllerFailover(trials: number): Promise<ControllerTrial[]> {
  const pg = await startPostgres();
  const replicas: Replica[] = [];
  try {
    const dirA = mkdtempSync(join(tmpdir(), "ballast-bench-fo-a-"));
    const dirB = mkdtempSync(join(tmpdir(), "ballast-bench-fo-b-"));
    replicas.push(await startReplica(dirA, pg.url));
    for (const f of ["secret.key", "agent-token"]) copyFileSync(join(dirA, f), join(dirB, f));
    replicas.push(await startReplica(dirB, pg.url));
    const first = replicas[0] as Replica;
    await until(() => isActive(first), "the first replica to take the controller lock", 10_000);
    const names = Array.from({ length: WRITERS_PER_REPLICA * 2 }, (_, w) => `fo-${w}`);
    for (const name of names)
      await first.elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: name,
          Listeners: [
            { Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 8080 },
          ],
          AvailabilityZones: ["us-east-1a"],
        }),
      );

    const results: ControllerTrial[] = [];
    for (let t = 0; t < trials; t++) {
      const [x, y] = replicas as [Replica, Replica];
      const activeIndex = (await isActive(x)) ? 0 : (await isActive(y)) ? 1 : -1;
      if (activeIndex < 0) throw new Error("no replica holds the controller lock");
      const victim = replicas[activeIndex] as Replica;
      const survivor = replicas[1 - activeIndex] as Replica;
      const trial = await oneTrial(victim, survivor, names);
      results.push(trial);
      progress(
        `controller trial ${t + 1}/${trials}: takeover ${trial.takeoverMs.toFixed(0)} ms, first mutation ${trial.firstMutationMs.toFixed(0)} ms (a call took ${trial.beforeKillCallMs.toFixed(0)} ms before the kill), ${trial.survivorFailures}/${trial.survivorCalls} survivor calls failed`,
      );
      // The killed replica comes back as the standby, on a new port.
      victim.elb.destroy();
      const back = await startReplica(victim.dir, pg.url);
      replicas[activeIndex] = back;
      await until(
        async () =>
          (await admin(survivor.apiUrl).json<ControlPlanesView>("GET", "/admin/v1/control-planes")).replicas
            .length === 2,
        "the restarted replica to join",
        15_000,
        50,
      );
    }
    return results;
  } finally {
    for (const r of replicas) {
      r.elb.destroy();
      await r.proc.kill("SIGTERM");
    }
    await pg.stop();
  }
}

async function oneTrial(
  victim: Replica,
  survivor: Replica,
  names: readonly string[],
): Promise<ControllerTrial> {
  let stop = false;
  let killedAt = Number.POSITIVE_INFINITY;
  let firstAfterKill = Number.POSITIVE_INFINITY;
  let survivorCalls = 0;
  const beforeKill: number[] = [];
  const survivorFailures: string[] = [];
  const writer = async (w: number): Promise<void> => {
    const viaSurvivor = w % 2 === 1;
    const target = viaSurvivor ? survivor : victim;
    for (let i = 0; !stop && i < MAX_CALLS; i++) {
      if (!viaSurvivor && !victim.proc.alive) return; // its writer has nobody left to call
      const sentAt = performance.now();
      try {
        await target.elb.send(
          new ConfigureHealthCheckCommand({
            LoadBalancerName: names[w],
            HealthCheck: {
              Target: "TCP:8080",
              Interval: 5 + (i % 50),
              Timeout: 2,
              HealthyThreshold: 2,
              UnhealthyThreshold: 2,
            },
          }),
        );
        const doneAt = performance.now();
        if (viaSurvivor && sentAt >= killedAt) firstAfterKill = Math.min(firstAfterKill, doneAt);
        if (viaSurvivor && doneAt < killedAt) beforeKill.push(doneAt - sentAt);
      } catch (e) {
        // Through the killed replica a call may die unanswered; through the survivor none should.
        if (viaSurvivor) survivorFailures.push((e as Error).message);
      }
      if (viaSurvivor) survivorCalls++;
    }
  };
  const writers = names.map((_, w) => writer(w));
  await sleep(300);
  killedAt = performance.now();
  victim.proc.child.kill("SIGKILL");
  const takeoverAt = await until(
    async () => ((await isActive(survivor)) ? performance.now() : undefined),
    "the survivor to take the controller lock",
    30_000,
    10,
  );
  await until(
    async () => firstAfterKill < Number.POSITIVE_INFINITY,
    "a mutation through the survivor",
    30_000,
  );
  await sleep(1000);
  stop = true;
  await Promise.all(writers);
  await victim.proc.kill("SIGKILL");
  return {
    takeoverMs: takeoverAt - killedAt,
    firstMutationMs: firstAfterKill - killedAt,
    beforeKillCallMs: [...beforeKill].sort((x, y) => x - y)[Math.floor(beforeKill.length / 2)] ?? Number.NaN,
    survivorCalls,
    survivorFailures: survivorFailures.length,
    survivorFailureSamples: survivorFailures.slice(0, 3),
  };
}
