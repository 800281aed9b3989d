/**
 * Name resolution that survives the control plane: each agent answers DNS for the load balancers
 * it serves. With the control plane killed (SIGKILL), every query to the agents is answered and
 * every request through the answered nodes succeeds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import {
  Backend,
  createHttpLoadBalancer,
  type RunningUp,
  registerInService,
  resolveA,
  sdkClient,
  spray,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const LB_PORT = 8163;
const BACKEND_PORT = 9163;
const ZONES = ["us-east-1a", "us-east-1b"];

describe("e2e: DNS answered by the agents, with the control plane dead", () => {
  const dataDir = tempDir("e2e-dns");
  const backends = [1, 2].map((n) => new Backend(`d${n}`, `127.0.67.${n}`, BACKEND_PORT));
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  let agentDns: { host: string; port: number }[] = [];

  before(async () => {
    for (const b of backends) await b.start();
    up = await startUp({ dataDir, poolOctet: 65 });
    elb = sdkClient(up.apiUrl);
    const line = /agents' DNS\s+(\S+), (\S+)/.exec(up.output());
    assert.ok(line, `the banner names the agents' DNS:\n${up.output()}`);
    agentDns = [line[1], line[2]].map((hp) => {
      const [host = "", port = ""] = (hp ?? "").split(":");
      return { host, port: Number(port) };
    });
  });
  after(async () => {
    elb?.destroy();
    await up?.stop();
    for (const z of ZONES) {
      try {
        process.kill(Number(readFileSync(join(dataDir, "agents", z, "agent.pid"), "utf8").trim()), "SIGKILL");
      } catch {}
    }
    for (const b of backends) await b.stop();
  });

  it("every agent answers what the control plane answers, and goes on answering after a SIGKILL of the control plane", async () => {
    const dnsName = await createHttpLoadBalancer(elb, "names", LB_PORT, BACKEND_PORT);
    await registerInService(elb, "names", backends, BACKEND_PORT);
    // Cross-zone load balancing is off and the back ends are in one zone: one node serves. Until
    // the health checks settle DNS fails open (every node), so wait for all three servers to agree
    // on that one node.
    const expected = await waitFor(
      async () => {
        const cp = await resolveA(up.dnsPort, dnsName);
        if (cp.length !== 1) return false;
        for (const d of agentDns) {
          const a = await resolveA(d.port, dnsName, d.host).catch(() => []);
          if (JSON.stringify(a) !== JSON.stringify(cp)) return false;
        }
        return cp;
      },
      { what: "the control plane and every agent to answer the one serving node" },
    );
    await up.stop("SIGKILL");
    let queries = 0;
    let requests = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline && queries < 60) {
      for (const d of agentDns) {
        queries++;
        try {
          const a = await resolveA(d.port, dnsName, d.host);
          if (JSON.stringify(a) !== JSON.stringify(expected)) failures.push(`${d.host}: ${a.join(",")}`);
          for (const name of await spray(a, LB_PORT, 2)) {
            requests++;
            if (!name.startsWith("d")) failures.push(`request answered ${name}`);
          }
        } catch (e) {
          failures.push(`${d.host}: ${String(e)}`);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(queries >= 20, `${queries} queries`);
    assert.deepEqual(failures, [], `${failures.length} of ${queries} queries / ${requests} requests failed`);
  });
});
