/**
 * Cross-zone load balancing end to end: with it off (the default), a node routes only to its own
 * zone's back ends and DNS answers only the nodes that have one InService; turned on, every node
 * routes to every zone's back ends and DNS answers them all.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  type ElasticLoadBalancingClient,
  ModifyLoadBalancerAttributesCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { Backend, type RunningUp, resolveA, sdkClient, spray, startUp, tempDir, waitFor } from "./support.js";

const LB_PORT = 8149;
const BACKEND_PORT = 9149;
/** Zone a's pool is 127.0.49.0/24, zone b's 127.0.50.0/24. */
const POOL_OCTET = 49;

describe("e2e: cross-zone load balancing", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  // IPv4 instance ids: both in the first zone, us-east-1a.
  const backends = [1, 2].map((n) => new Backend(`z${n}`, `127.0.59.${n}`, BACKEND_PORT));
  let dnsName = "";
  let nodeA = "";
  let nodeB = "";

  before(async () => {
    for (const b of backends) await b.start();
    up = await startUp({ dataDir: tempDir("e2e-cross-zone"), poolOctet: POOL_OCTET });
    elb = sdkClient(up.apiUrl);
  });
  after(async () => {
    elb?.destroy();
    await up?.stop();
    for (const b of backends) await b.stop();
  });

  it("answers every node in DNS while no node has an InService back end", async () => {
    const created = await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "zonal",
        Listeners: [
          {
            Protocol: "HTTP",
            LoadBalancerPort: LB_PORT,
            InstanceProtocol: "HTTP",
            InstancePort: BACKEND_PORT,
          },
        ],
        AvailabilityZones: ["us-east-1a", "us-east-1b"],
      }),
    );
    dnsName = created.DNSName ?? "";
    const nodes = await waitFor(
      async () => {
        const a = await resolveA(up.dnsPort, dnsName);
        return a.length === 2 ? a : false;
      },
      { what: "both nodes in DNS" },
    );
    nodeA = nodes.find((a) => a.startsWith(`127.0.${POOL_OCTET}.`)) ?? "";
    nodeB = nodes.find((a) => a.startsWith(`127.0.${POOL_OCTET + 1}.`)) ?? "";
    assert.ok(nodeA && nodeB, `one node per zone: ${nodes.join(", ")}`);
  });

  it("with cross-zone off, DNS answers only zone a's node and zone b's node answers 503", async () => {
    await elb.send(
      new ConfigureHealthCheckCommand({
        LoadBalancerName: "zonal",
        HealthCheck: {
          Target: `HTTP:${BACKEND_PORT}/health`,
          Interval: 5,
          Timeout: 2,
          UnhealthyThreshold: 2,
          HealthyThreshold: 2,
        },
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "zonal",
        Instances: backends.map((b) => ({ InstanceId: b.address })),
      }),
    );
    await waitFor(
      async () => {
        const h = await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "zonal" }));
        return h.InstanceStates?.length === 2 && h.InstanceStates.every((s) => s.State === "InService");
      },
      { what: "both back ends InService" },
    );
    await waitFor(
      async () => JSON.stringify(await resolveA(up.dnsPort, dnsName)) === JSON.stringify([nodeA]),
      {
        what: "DNS to answer only zone a's node",
      },
    );
    const seen = await spray([nodeA], LB_PORT, 10);
    assert.deepEqual([...new Set(seen)].sort(), ["z1", "z2"]);
    const hits = backends.map((b) => b.hits);
    assert.deepEqual(await spray([nodeB], LB_PORT, 4), [
      "status-503",
      "status-503",
      "status-503",
      "status-503",
    ]);
    assert.deepEqual(
      backends.map((b) => b.hits),
      hits,
      "zone b's node sent nothing to zone a",
    );
  });

  it("with cross-zone on, zone b's node serves and DNS answers both nodes", async () => {
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerName: "zonal",
        LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } },
      }),
    );
    const seen = await waitFor(
      async () => {
        const names = await spray([nodeB], LB_PORT, 10);
        return names.every((n) => n === "z1" || n === "z2") ? names : false;
      },
      { what: "zone b's node to route to zone a's back ends" },
    );
    assert.deepEqual([...new Set(seen)].sort(), ["z1", "z2"]);
    await waitFor(
      async () => JSON.stringify(await resolveA(up.dnsPort, dnsName)) === JSON.stringify([nodeA, nodeB]),
      { what: "DNS to answer both nodes" },
    );
  });
});
