/**
 * An agent process near its file-descriptor limit (512, set with prlimit): a flood of idle client
 * connections to one load balancer is capped below the limit, so the agent's own health checks
 * keep passing, another load balancer on the agent is served, and the flooded one serves again
 * the moment the flood ends. No control plane runs: the agent serves its last-known-good file.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { writeLastKnownGood } from "../../src/agent/last-known-good.js";
import { closeServer, type EchoBackend, echoBackend, fetchRaw, freePort, lbSpec } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";
import { MAIN_JS, tempDir, waitFor } from "./support.js";

const ZONE = "us-east-1a";
const NODE_A = "127.0.16.1";
const NODE_B = "127.0.16.2";

function hasPrlimit(): boolean {
  try {
    execFileSync("prlimit", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("e2e: an agent at 512 open files under a flood of idle connections", {
  skip: !hasPrlimit() && "prlimit (util-linux) is not installed",
}, () => {
  let agent: ChildProcess;
  let b: EchoBackend;
  let metricsPort = 0;
  let portA = 0;
  let portB = 0;
  const flood: Socket[] = [];

  before(async () => {
    b = await echoBackend("b0", "127.0.0.1");
    const dir = tempDir("agent-fd");
    portA = await freePort(NODE_A);
    portB = await freePort(NODE_B);
    metricsPort = await freePort("127.0.0.1");
    const hc = {
      target: `HTTP:${b.port}/health`,
      interval: 1,
      timeout: 0.5,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    };
    const spec = (name: string, port: number) =>
      aNodeSpec({
        ...lbSpec(
          name,
          [{ protocol: "HTTP", loadBalancerPort: port, instanceProtocol: "HTTP", instancePort: b.port }],
          [],
          hc,
        ),
        backends: [{ instanceId: "i-1", address: "127.0.0.1", zone: ZONE }],
      });
    await writeLastKnownGood(dir, {
      format: 2,
      revision: 3,
      zone: ZONE,
      loadBalancers: [spec("a", portA), spec("b", portB)],
      addresses: { a: NODE_A, b: NODE_B },
      savedAt: new Date().toISOString(),
    });
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "t\n", { mode: 0o600 });
    const deadControlPlane = `http://127.0.0.1:${await freePort("127.0.0.1")}`;
    agent = spawn(
      "prlimit",
      [
        "--nofile=512:512",
        process.execPath,
        MAIN_JS,
        "agent",
        "--zone",
        ZONE,
        "--pool",
        "127.0.16.0/24",
        "--control",
        deadControlPlane,
        "--token-file",
        tokenFile,
        "--data-dir",
        dir,
        "--metrics-port",
        String(metricsPort),
      ],
      { stdio: "ignore" },
    );
    await waitFor(async () => (await healthy("a")) === 1 && (await healthy("b")) === 1, {
      what: "both load balancers' back end InService",
    });
  });

  after(async () => {
    for (const s of flood) s.destroy();
    if (agent.exitCode === null) {
      agent.kill("SIGTERM");
      await once(agent, "exit");
    }
    await closeServer(b.server);
  });

  async function metric(name: string, lb: string): Promise<number | undefined> {
    const text = (await fetchRaw("127.0.0.1", metricsPort, "/metrics")).body.toString();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{load_balancer="${lb}"`));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  }
  const healthy = (lb: string) => metric("ballast_elb_healthy_hosts", lb);

  it("caps the flood, keeps every health check passing, serves the other load balancer, then the flooded one at once", async () => {
    for (let i = 0; i < 700; i++) {
      const s = connect({ host: NODE_A, port: portA });
      s.on("error", () => {});
      flood.push(s);
    }
    await Promise.all(flood.map((s) => Promise.race([once(s, "connect"), once(s, "close")])));
    // 512 files: 256 kept in reserve, 128 client connections for the agent, 64 for one node.
    await waitFor(async () => ((await metric("ballast_elb_rejected_connections_total", "a")) ?? 0) >= 600, {
      what: "the flood to be refused past the node's cap",
    });
    // Several health-check rounds (interval 1 s, two failures make OutOfService) during the flood.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await healthy("a"), 1, `a's back end InService, ${i + 1} s into the flood`);
      assert.equal(await healthy("b"), 1);
      assert.equal((await fetchRaw(NODE_B, portB, "/")).status, 200, "the other load balancer is served");
    }
    for (const s of flood) s.destroy();
    await waitFor(async () => (await fetchRaw(NODE_A, portA, "/")).status === 200, {
      what: "the flooded load balancer to serve again",
      timeoutMs: 3000,
    });
  });
});
