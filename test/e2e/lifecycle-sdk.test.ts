/**
 * The walking skeleton end to end, driven by the AWS SDK v3: a load balancer created through
 * the API carries real traffic to real back ends through real agents, follows their health,
 * and goes away completely when deleted.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  DeleteLoadBalancerCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  ModifyLoadBalancerAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  Backend,
  createHttpLoadBalancer,
  nodesInDns,
  type RunningUp,
  registerInService,
  resolveA,
  sdkClient,
  spray,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const LB_PORT = 8088;
const BACKEND_PORT = 9080;

describe("e2e with the AWS SDK: create, route, follow health, deregister, delete", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  const backends = [1, 2, 3].map((n) => new Backend(`b${n}`, `127.0.51.${n}`, BACKEND_PORT));
  let dnsName = "";
  let nodes: string[] = [];

  before(async () => {
    for (const b of backends) await b.start();
    up = await startUp({ dataDir: tempDir("e2e-sdk"), poolOctet: 41 });
    elb = sdkClient(up.apiUrl);
  });
  after(async () => {
    elb?.destroy();
    await up?.stop();
    for (const b of backends) await b.stop();
  });

  it("creates a load balancer whose DNS name resolves to one node per zone", async () => {
    dnsName = await createHttpLoadBalancer(elb, "web", LB_PORT, BACKEND_PORT);
    assert.match(dnsName, /^web-\d+\.us-east-1\.elb\.ballast\.internal$/);
    nodes = await nodesInDns(up.dnsPort, dnsName, 2);
    assert.ok(nodes.some((a) => a.startsWith("127.0.41.")));
    assert.ok(nodes.some((a) => a.startsWith("127.0.42.")));
  });

  it("reports each agent's progress through the journal as metrics", async () => {
    const text = await waitFor(
      async () => {
        const t = await (await fetch(`http://127.0.0.1:${up.agentPort}/metrics`)).text();
        return /ballast_agent_config_lag_revisions\{agent="agent-us-east-1a",zone="us-east-1a"\} 0\n/.test(
          t,
        ) && /ballast_agent_config_lag_revisions\{agent="agent-us-east-1b",zone="us-east-1b"\} 0\n/.test(t)
          ? t
          : false;
      },
      { what: "both agents caught up with the journal" },
    );
    assert.match(text, /^ballast_load_balancers 1$/m);
    assert.match(text, /^ballast_agent_up\{agent="agent-us-east-1a",zone="us-east-1a"\} 1$/m);
    assert.match(text, /^ballast_agent_unexplained\{agent="agent-us-east-1b",zone="us-east-1b"\} 0$/m);
  });

  it("routes to every registered back end once their health checks pass", async () => {
    // The back ends are IPv4 ids, so all in zone a: with cross-zone load balancing on, the zone b
    // node routes to them too and DNS keeps answering both nodes.
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerName: "web",
        LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } },
      }),
    );
    const registered = await registerInService(elb, "web", backends, BACKEND_PORT);
    assert.equal(registered.length, 3);
    await waitFor(async () => JSON.stringify(await resolveA(up.dnsPort, dnsName)) === JSON.stringify(nodes), {
      what: "DNS to answer both nodes",
    });
    const seen = await waitFor(
      async () => {
        const names = await spray(nodes, LB_PORT, 30);
        return names.every((n) => n.startsWith("b")) ? names : false;
      },
      { what: "both nodes routing to the three back ends" },
    );
    assert.deepEqual([...new Set(seen)].sort(), ["b1", "b2", "b3"]);
  });

  it("takes a stopped back end OutOfService within the thresholds and stops sending it traffic", async () => {
    const stoppedAt = Date.now();
    await backends[2]?.stop();
    await waitFor(
      async () => {
        const h = await elb.send(
          new DescribeInstanceHealthCommand({
            LoadBalancerName: "web",
            Instances: [{ InstanceId: "127.0.51.3" }],
          }),
        );
        return h.InstanceStates?.[0]?.State === "OutOfService" ? h.InstanceStates[0] : false;
      },
      // Interval 5 s × UnhealthyThreshold 2, plus one interval of phase and the report period.
      { timeoutMs: 5_000 * 2 + 5_000 + 3_000, what: "b3 OutOfService" },
    );
    assert.ok(Date.now() - stoppedAt <= 18_000);
    const seen = await spray(nodes, LB_PORT, 20);
    assert.deepEqual([...new Set(seen)].sort(), ["b1", "b2"]);
  });

  it("sends no more traffic to a deregistered back end", async () => {
    const out = await elb.send(
      new DeregisterInstancesFromLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: "127.0.51.2" }],
      }),
    );
    assert.deepEqual(
      out.Instances?.map((i) => i.InstanceId),
      ["127.0.51.1", "127.0.51.3"],
    );
    await waitFor(
      async () => {
        const seen = await spray(nodes, LB_PORT, 10);
        return seen.every((n) => n === "b1");
      },
      { what: "traffic only to b1" },
    );
    const hitsBefore = backends[1]?.hits ?? 0;
    await spray(nodes, LB_PORT, 20);
    assert.equal(backends[1]?.hits, hitsBefore);
  });

  it("closes the listeners and stops resolving the DNS name once the load balancer is deleted", async () => {
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "web" }));
    const d = await elb.send(new DescribeLoadBalancersCommand({}));
    assert.equal(d.LoadBalancerDescriptions?.length, 0);
    await waitFor(
      async () => {
        try {
          await resolveA(up.dnsPort, dnsName);
          return false;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === "ENOTFOUND";
        }
      },
      { what: "NXDOMAIN for the deleted load balancer" },
    );
    for (const addr of nodes) {
      await waitFor(() => refused(addr, LB_PORT), { what: `listener on ${addr} closed` });
    }
  });
});

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}
