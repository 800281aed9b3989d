/**
 * Regions through the AWS SDK: a request acts in the region of its credential scope. Two regions
 * are isolated (the same name in both, Describe sees only its own, quotas apart), zones are the
 * region's, and a load balancer stored before regions is us-east-1's.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateLoadBalancerCommand,
  type CreateLoadBalancerCommandInput,
  DeleteLoadBalancerCommand,
  DescribeAccountLimitsCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { defaultVpc } from "../../src/model/default-vpc.js";
import type { LoadBalancer } from "../../src/model/types.js";
import { ADMIN_KEY, authHeader, sdkError, startTestServer, type TestServer } from "./support.js";

const EAST = "us-east-2";
const WEST = "us-west-2";

function create(name: string, zones: string[]): CreateLoadBalancerCommandInput {
  return {
    LoadBalancerName: name,
    Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
    AvailabilityZones: zones,
  };
}

describe("regions", () => {
  let server: TestServer;
  let east: ElasticLoadBalancingClient;
  let west: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    east = server.client(ADMIN_KEY, EAST);
    west = server.client(ADMIN_KEY, WEST);
  });
  after(() => server.close());

  const names = async (c: ElasticLoadBalancingClient) =>
    ((await c.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions ?? []).map(
      (d) => d.LoadBalancerName,
    );

  test("the same name in two regions: two load balancers, each with its region's DNS name and VPC", async () => {
    const a = await east.send(new CreateLoadBalancerCommand(create("web", [`${EAST}a`])));
    const b = await west.send(new CreateLoadBalancerCommand(create("web", [`${WEST}a`, `${WEST}c`])));
    assert.match(a.DNSName ?? "", /^web-\d{10}\.us-east-2\.elb\.ballast\.test$/);
    assert.match(b.DNSName ?? "", /^web-\d{10}\.us-west-2\.elb\.ballast\.test$/);
    const d = (await west.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["web"] })))
      .LoadBalancerDescriptions?.[0];
    assert.equal(d?.DNSName, b.DNSName);
    assert.deepEqual(d?.AvailabilityZones, ["us-west-2a", "us-west-2c"], "a zone needs no agent");
    const vpc = defaultVpc(WEST, []);
    assert.equal(d?.VPCId, vpc.vpcId);
    assert.notEqual(vpc.vpcId, defaultVpc(EAST, []).vpcId, "each region has its own default VPC");
    assert.deepEqual(d?.Subnets, [vpc.subnetFor("us-west-2a"), vpc.subnetFor("us-west-2c")]);
    assert.equal(d?.CanonicalHostedZoneNameID, "ZBALLASTUSWEST2");
    // Stored apart: us-east-1 keeps bare names, other regions' keys carry the region.
    const stored = await server.store.get("loadBalancer", "us-east-2/web");
    assert.equal(stored?.doc.region, EAST);
    assert.equal(await server.store.get("loadBalancer", "web"), undefined);
  });

  test("Describe sees only its region's; another region's name is LoadBalancerNotFound", async () => {
    await east.send(new CreateLoadBalancerCommand(create("east-only", [`${EAST}b`])));
    assert.deepEqual(await names(east), ["east-only", "web"]);
    assert.deepEqual(await names(west), ["web"]);
    assert.deepEqual(await names(server.client()), []);
    const err = await sdkError(() =>
      west.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["east-only"] })),
    );
    assert.equal(err.code, "LoadBalancerNotFound");
    assert.equal(err.message, "Cannot find Load Balancer east-only");
    const tags = await sdkError(() =>
      west.send(new DescribeTagsCommand({ LoadBalancerNames: ["east-only"] })),
    );
    assert.equal(tags.code, "LoadBalancerNotFound");
    const reg = await sdkError(() =>
      west.send(
        new RegisterInstancesWithLoadBalancerCommand({
          LoadBalancerName: "east-only",
          Instances: [{ InstanceId: "10.0.0.1" }],
        }),
      ),
    );
    assert.equal(reg.message, "There is no ACTIVE Load Balancer named 'east-only'");
    // Deleting in one region leaves the other's alone.
    await west.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "east-only" }));
    assert.deepEqual(await names(east), ["east-only", "web"]);
  });

  test("zones are the region's: another region's zone, or no zone at all, is refused", async () => {
    for (const zone of ["us-west-2a", "us-east-1a", "us-east-2", "us-east-2aa", "zone-a"]) {
      const err = await sdkError(() => east.send(new CreateLoadBalancerCommand(create("badzone", [zone]))));
      assert.equal(err.code, "InvalidConfigurationRequest", zone);
      assert.equal(err.status, 409);
      assert.equal(err.message, `Classic Load Balancers do not support Availability Zone '${zone}'.`);
    }
  });

  test("quotas are per region: a limit set for one region does not bind another", async () => {
    const res = await fetch(`${server.url}/admin/v1/limits/classic-load-balancers`, {
      method: "PUT",
      // The admin API sets the limit of the region its request is signed for.
      headers: { authorization: authHeader(ADMIN_KEY, EAST), "content-type": "application/json" },
      body: JSON.stringify({ max: 2 }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { limit: unknown }).limit, {
      name: "classic-load-balancers",
      region: EAST,
      max: 2,
    });
    const max = async (c: ElasticLoadBalancingClient) =>
      (await c.send(new DescribeAccountLimitsCommand({}))).Limits?.find(
        (l) => l.Name === "classic-load-balancers",
      )?.Max;
    assert.equal(await max(east), "2");
    assert.equal(await max(west), "20");
    assert.equal(await max(server.client()), "20");
    // us-east-2 has two (web, east-only): full. us-west-2 has one.
    const full = await sdkError(() =>
      east.send(new CreateLoadBalancerCommand(create("third", [`${EAST}a`]))),
    );
    assert.equal(full.code, "TooManyLoadBalancers");
    await west.send(new CreateLoadBalancerCommand(create("third", [`${WEST}a`])));
    // The admin list of limits is the region's too: `?region=` or the signing region.
    const list = await fetch(`${server.url}/admin/v1/limits?region=${EAST}`, {
      headers: { authorization: authHeader() },
    });
    const body = (await list.json()) as { region: string; limits: { name: string; max: number }[] };
    assert.equal(body.region, EAST);
    assert.equal(body.limits[0]?.max, 2);
  });

  test("a load balancer stored before regions is us-east-1's, in its default VPC", async () => {
    const legacy: LoadBalancer = {
      name: "legacy",
      id: "1234567890",
      dnsName: "legacy-1234567890.us-east-1.elb.ballast.test",
      createdTime: "2025-01-01T00:00:00.000Z",
      scheme: "internet-facing",
      listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 80 }],
      availabilityZones: ["us-east-1a", "us-east-1b"],
      subnets: [],
      securityGroups: [],
      healthCheck: {
        target: "TCP:80",
        interval: 30,
        timeout: 5,
        unhealthyThreshold: 2,
        healthyThreshold: 10,
      },
      instances: [],
      tags: [],
    };
    await server.store.mutate(
      { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "CreateLoadBalancer" },
      async (tx) => tx.put("loadBalancer", "legacy", legacy),
    );
    const home = server.client();
    const d = (await home.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["legacy"] })))
      .LoadBalancerDescriptions?.[0];
    const vpc = defaultVpc("us-east-1", []);
    assert.equal(d?.VPCId, vpc.vpcId);
    assert.deepEqual(d?.Subnets, [vpc.subnetFor("us-east-1a"), vpc.subnetFor("us-east-1b")]);
    assert.deepEqual(d?.SecurityGroups, [vpc.securityGroupId]);
    assert.deepEqual(d?.SourceSecurityGroup, { OwnerAlias: "000000000000", GroupName: "default" });
    assert.deepEqual(await names(east), ["east-only", "web"]);
    // The same definition again is the same load balancer: idempotent, nothing appended.
    const head = await server.store.head();
    const again = await home.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "legacy",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 80 }],
        AvailabilityZones: ["us-east-1a", "us-east-1b"],
      }),
    );
    assert.equal(again.DNSName, legacy.dnsName);
    assert.equal(await server.store.head(), head);
  });
});
