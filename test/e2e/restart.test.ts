/**
 * Static stability end to end: agents keep serving when the control plane dies, a restarted
 * `ballast up` on the same data directory adopts the agents it left and serves every load
 * balancer again, and Ctrl-C stops every process it started.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ModifyLoadBalancerAttributesCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { readLastKnownGood } from "../../src/agent/last-known-good.js";
import {
  Backend,
  type RunningUp,
  sdkClient,
  spray,
  startBallast,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const LB_PORT = 8089;
const BACKEND_PORT = 9081;
const ZONES = ["us-east-1a", "us-east-1b"];

describe("e2e: restarts and a dead control plane", () => {
  const dataDir = tempDir("e2e-restart");
  const backend = new Backend("solo", "127.0.52.1", BACKEND_PORT);
  let up: RunningUp | undefined;
  let ports: { apiPort: number; agentPort: number; dnsPort: number };
  let nodes: string[] = [];

  const agentPids = (): number[] =>
    ZONES.flatMap((z) => {
      try {
        return [Number(readFileSync(join(dataDir, "agents", z, "agent.pid"), "utf8").trim())];
      } catch {
        return [];
      }
    });

  const workerPids = (): number[] =>
    ZONES.flatMap((z) => {
      try {
        return [Number(readFileSync(join(dataDir, "agents", z, "worker.pid"), "utf8").trim())];
      } catch {
        return [];
      }
    });

  before(async () => {
    await backend.start();
    up = await startUp({ dataDir, poolOctet: 45 });
    ports = { apiPort: up.apiPort, agentPort: up.agentPort, dnsPort: up.dnsPort };
  });
  after(async () => {
    await up?.stop();
    for (const pid of agentPids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await backend.stop();
  });

  async function nodeAddresses(): Promise<string[]> {
    return waitFor(
      async () => {
        const s = await statusNodes();
        return s.length === 2 ? s : false;
      },
      { what: "both agents serving the load balancer" },
    );
  }
  async function statusNodes(): Promise<string[]> {
    // The snapshot and the log of deltas on top of it, read as the agent reads them at start.
    const lkg = await Promise.all(
      ZONES.map((z) => readLastKnownGood(join(dataDir, "agents", z)).catch(() => undefined)),
    );
    return lkg.flatMap((l) => (l?.addresses.app ? [l.addresses.app] : [])).sort();
  }

  it("serves a load balancer created through the API", async () => {
    assert.ok(up);
    const elb = sdkClient(up.apiUrl);
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "app",
        Listeners: [
          {
            Protocol: "HTTP",
            LoadBalancerPort: LB_PORT,
            InstanceProtocol: "HTTP",
            InstancePort: BACKEND_PORT,
          },
        ],
        AvailabilityZones: ZONES,
      }),
    );
    // One back end, in zone a (an IPv4 id): cross-zone on lets the zone b node serve it too, so
    // each node's survival is seen through its own traffic.
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerName: "app",
        LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } },
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "app",
        Instances: [{ InstanceId: backend.address }],
      }),
    );
    elb.destroy();
    nodes = await nodeAddresses();
    await waitFor(async () => (await spray(nodes, LB_PORT, 4)).every((n) => n === "solo"), {
      what: "traffic through both nodes",
    });
  });

  it("keeps serving with the control plane killed", async () => {
    assert.ok(up);
    const pids = agentPids();
    assert.equal(pids.length, 2);
    await up.stop("SIGKILL");
    up = undefined;
    for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), "agent still running");
    for (let round = 0; round < 5; round++) {
      assert.deepEqual(await spray(nodes, LB_PORT, 4), ["solo", "solo", "solo", "solo"]);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it("starts an agent from its last-known-good file while the control plane is down", async () => {
    const zone = "us-east-1a";
    const orphan = agentPids()[0];
    const worker = workerPids()[0];
    const { proc } = await startBallast(
      [
        "agent",
        "--zone",
        zone,
        "--pool",
        "127.0.45.0/24",
        "--control",
        `http://127.0.0.1:${ports.agentPort}`,
        "--token-file",
        join(dataDir, "agent-token"),
        "--data-dir",
        join(dataDir, "agents", zone),
      ],
      "an agent keeper already runs for this directory",
      { BALLAST_LOG_LEVEL: "info" },
    );
    try {
      // The orphaned keeper keeps its sockets and starts a new worker from its last-known-good
      // file with the new agent's flags; the new agent stands in for it.
      await waitFor(async () => worker !== undefined && !isAlive(worker) && workerPids()[0] !== worker, {
        what: "the old worker to hand over to a new one",
      });
      assert.ok(orphan !== undefined && isAlive(orphan), "the keeper was adopted, not stopped");
      const address = nodes.find((a) => a.startsWith("127.0.45."));
      assert.ok(address);
      assert.deepEqual(await spray([address], LB_PORT, 4), ["solo", "solo", "solo", "solo"]);
    } finally {
      // Leave it running as an orphan would be: the restarted `ballast up` adopts it too.
      proc.unref();
    }
  });

  it("serves again from a restarted `ballast up` on the same data directory", async () => {
    const orphans = agentPids();
    const workers = workerPids();
    up = await startUp({ dataDir, poolOctet: 45, ...ports });
    // The new agents adopt the keepers the killed control plane left running: new workers, the
    // same keepers (their sockets never closed).
    await waitFor(
      async () => {
        const now = workerPids();
        return (
          now.length === 2 && now.every((p) => !workers.includes(p)) && workers.every((p) => !isAlive(p))
        );
      },
      { what: "the orphaned keepers to start new workers" },
    );
    assert.deepEqual(agentPids(), orphans);
    for (const pid of orphans) assert.ok(isAlive(pid), "an orphaned keeper was adopted, not stopped");
    const elb = sdkClient(up.apiUrl);
    const d = await elb.send(new DescribeLoadBalancersCommand({}));
    elb.destroy();
    assert.deepEqual(
      d.LoadBalancerDescriptions?.map((l) => l.LoadBalancerName),
      ["app"],
    );
    assert.deepEqual(await nodeAddresses(), nodes);
    await waitFor(async () => (await spray(nodes, LB_PORT, 4)).every((n) => n === "solo"), {
      what: "traffic after restart",
    });
  });

  it("stops every process it started on SIGINT, and starts serving again afterwards", async () => {
    assert.ok(up);
    const pids = agentPids();
    await up.stop("SIGINT");
    up = undefined;
    for (const pid of pids) {
      await waitFor(async () => !isAlive(pid), { what: `agent ${pid} to exit` });
    }
    await assert.rejects(fetch(`http://${nodes[0]}:${LB_PORT}/`));
    up = await startUp({ dataDir, poolOctet: 45, ...ports });
    await waitFor(async () => (await spray(nodes, LB_PORT, 4)).every((n) => n === "solo"), {
      what: "traffic after a clean restart",
    });
  });
});

/** Running, not a zombie waiting for an init process that may never reap it. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
