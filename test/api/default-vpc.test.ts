/**
 * The default VPC of a region through the AWS SDK and the admin API: registry subnets marked
 * `defaultForAz` take precedence over the synthesized ones, a region's subnets are not another
 * region's, default subnets can be named like registered ones, and zones and subnets stay in
 * step. Zones of any region are accepted by the registries.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AttachLoadBalancerToSubnetsCommand,
  CreateLoadBalancerCommand,
  type CreateLoadBalancerCommandInput,
  DescribeLoadBalancersCommand,
  DisableAvailabilityZonesForLoadBalancerCommand,
  type ElasticLoadBalancingClient,
  EnableAvailabilityZonesForLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { defaultSecurityGroupId, defaultVpc } from "../../src/model/default-vpc.js";
import { ADMIN_KEY, authHeader, sdkError, startTestServer, type TestServer } from "./support.js";

const REGION = "eu-west-1";
const VPC = "vpc-0e1f2a3b";
const DEFAULT_A = "subnet-0e1f0001";
const OTHER_REGION = "subnet-0e1f0009";

function create(name: string, over: Partial<CreateLoadBalancerCommandInput>): CreateLoadBalancerCommandInput {
  return {
    LoadBalancerName: name,
    Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
    ...over,
  };
}

describe("the default VPC of a region", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;

  async function admin(method: string, path: string, body?: unknown, region = "us-east-1") {
    const res = await fetch(`${server.url}/admin/v1${path}`, {
      method,
      headers: { authorization: authHeader(ADMIN_KEY, region), "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  const describeLb = async (name: string) =>
    (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] })))
      .LoadBalancerDescriptions?.[0];

  before(async () => {
    server = await startTestServer();
    elb = server.client(ADMIN_KEY, REGION);
  });
  after(() => server.close());

  test("the registries take zones of any region, and list one region's with ?region=", async () => {
    const put = await admin("PUT", `/subnets/${DEFAULT_A}`, {
      zone: "eu-west-1a",
      vpcId: VPC,
      defaultForAz: true,
    });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.deepEqual(put.json.subnet, {
      subnetId: DEFAULT_A,
      zone: "eu-west-1a",
      vpcId: VPC,
      defaultForAz: true,
    });
    assert.equal(
      (await admin("PUT", `/subnets/${OTHER_REGION}`, { zone: "eu-west-2a", vpcId: VPC })).status,
      200,
    );
    const bad = await admin("PUT", "/subnets/subnet-0e1f000a", { zone: "eu-west-1", vpcId: VPC });
    assert.equal(bad.status, 400);
    const flag = await admin("PUT", "/subnets/subnet-0e1f000a", {
      zone: "eu-west-1a",
      vpcId: VPC,
      defaultForAz: 1,
    });
    assert.equal(flag.status, 400);
    const listed = await admin("GET", `/subnets?region=${REGION}`);
    assert.deepEqual(
      (listed.json.subnets as { subnetId: string }[]).map((s) => s.subnetId),
      [DEFAULT_A],
    );
    assert.equal((await admin("GET", "/subnets?region=nowhere")).status, 400);
    const inst = await admin("PUT", "/instances/i-0e1f", { address: "10.1.0.5", zone: "ap-south-1b" });
    assert.equal(inst.status, 200, JSON.stringify(inst.json));
    const instances = await admin("GET", "/instances?region=ap-south-1");
    assert.deepEqual(
      (instances.json.instances as { instanceId: string }[]).map((i) => i.instanceId),
      ["i-0e1f"],
    );
  });

  test("AvailabilityZones use the registry's default subnet of a zone, and its VPC for the others", async () => {
    await elb.send(
      new CreateLoadBalancerCommand(create("app", { AvailabilityZones: ["eu-west-1a", "eu-west-1b"] })),
    );
    const d = await describeLb("app");
    const vpc = defaultVpc(REGION, [
      { subnetId: DEFAULT_A, zone: "eu-west-1a", vpcId: VPC, defaultForAz: true },
    ]);
    assert.equal(d?.VPCId, VPC);
    assert.deepEqual(d?.Subnets, [DEFAULT_A, vpc.subnetFor("eu-west-1b")]);
    assert.deepEqual(d?.SecurityGroups, [defaultSecurityGroupId(VPC)]);
    assert.deepEqual(d?.SourceSecurityGroup, { OwnerAlias: "000000000000", GroupName: "default" });
  });

  test("Enable/DisableAvailabilityZones attach and detach the zones' default subnets", async () => {
    const vpc = defaultVpc(REGION, [
      { subnetId: DEFAULT_A, zone: "eu-west-1a", vpcId: VPC, defaultForAz: true },
    ]);
    const on = await elb.send(
      new EnableAvailabilityZonesForLoadBalancerCommand({
        LoadBalancerName: "app",
        AvailabilityZones: ["eu-west-1c"],
      }),
    );
    assert.deepEqual(on.AvailabilityZones, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    assert.deepEqual((await describeLb("app"))?.Subnets, [
      DEFAULT_A,
      vpc.subnetFor("eu-west-1b"),
      vpc.subnetFor("eu-west-1c"),
    ]);
    const off = await elb.send(
      new DisableAvailabilityZonesForLoadBalancerCommand({
        LoadBalancerName: "app",
        AvailabilityZones: ["eu-west-1a", "eu-west-1b"],
      }),
    );
    assert.deepEqual(off.AvailabilityZones, ["eu-west-1c"]);
    assert.deepEqual((await describeLb("app"))?.Subnets, [vpc.subnetFor("eu-west-1c")]);
    // A default subnet is a subnet like any other: it can be attached by id.
    const attached = await elb.send(
      new AttachLoadBalancerToSubnetsCommand({ LoadBalancerName: "app", Subnets: [DEFAULT_A] }),
    );
    assert.deepEqual(attached.Subnets, [vpc.subnetFor("eu-west-1c"), DEFAULT_A]);
  });

  test("a subnet of another region is not found in this one", async () => {
    const err = await sdkError(() =>
      elb.send(new CreateLoadBalancerCommand(create("far", { Subnets: [OTHER_REGION] }))),
    );
    assert.equal(err.code, "SubnetNotFound");
    const us = server.client();
    const fromUs = await sdkError(() =>
      us.send(new CreateLoadBalancerCommand(create("far", { Subnets: [DEFAULT_A] }))),
    );
    assert.equal(fromUs.code, "SubnetNotFound");
  });
});
