/**
 * Cross-zone load balancing end to end: with it off (the default), a node routes only to its own
 * zone's back ends and DNS answers only the nodes that have one InService; turned on, every node
 * routes to every zone's back ends and DNS answers them all.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
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
    dnsName = await createHttpLoadBalancer(elb, "zonal", LB_PORT, BACKEND_PORT);
    const nodes = await nodesInDns(up.dnsPort, dnsName, 2);
    nodeA = nodes.find((a) => a.startsWith(`127.0.${POOL_OCTET}.`)) ?? "";
    nodeB = nodes.find((a) => a.startsWith(`127.0.${POOL_OCTET + 1}.`)) ?? "";
    assert.ok(nodeA && nodeB, `one node per zone: ${nodes.join(", ")}`);
  });

  it("with cross-zone off, DNS answers only zone a's node and zone b's node answers 503", async () => {
    await registerInService(elb, "zonal", backends, BACKEND_PORT);
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
