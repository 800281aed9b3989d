/**
 * Availability zones, subnets (through the subnet registry) and security groups, through the AWS
 * SDK: EnableAvailabilityZones…/DisableAvailabilityZones…, AttachLoadBalancerToSubnets,
 * DetachLoadBalancerFromSubnets, ApplySecurityGroupsToLoadBalancer, CreateLoadBalancer with Subnets.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ApplySecurityGroupsToLoadBalancerCommand,
  AttachLoadBalancerToSubnetsCommand,
  CreateLoadBalancerCommand,
  type CreateLoadBalancerCommandInput,
  DescribeLoadBalancersCommand,
  DetachLoadBalancerFromSubnetsCommand,
  DisableAvailabilityZonesForLoadBalancerCommand,
  type ElasticLoadBalancingClient,
  EnableAvailabilityZonesForLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { defaultVpc } from "../../src/model/default-vpc.js";
import type { Subnet } from "../../src/model/types.js";
import { sdkError, startTestServer, type TestServer } from "./support.js";

const VPC = "vpc-0a1b2c3d";
const SUBNET_A = "subnet-0000000a";
const SUBNET_B = "subnet-0000000b";
const SUBNET_A2 = "subnet-000000a2";
const OTHER_VPC_B = "subnet-1234567890abcdef0";
const SG = "sg-0123abcd";
const SG_LONG = "sg-0123456789abcdef0";
/** us-east-1's default VPC as Ballast synthesizes it (no registry subnet is marked default here). */
const DEFAULT_VPC = defaultVpc("us-east-1", []);

function create(name: string, over: Partial<CreateLoadBalancerCommandInput>): CreateLoadBalancerCommandInput {
  return {
    LoadBalancerName: name,
    Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
    ...over,
  };
}

describe("zones, subnets and security groups", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    elb = server.client();
    const subnets: Subnet[] = [
      { subnetId: SUBNET_A, zone: "us-east-1a", vpcId: VPC, cidrBlock: "10.0.1.0/24" },
      { subnetId: SUBNET_B, zone: "us-east-1b", vpcId: VPC },
      { subnetId: SUBNET_A2, zone: "us-east-1a", vpcId: VPC },
      { subnetId: OTHER_VPC_B, zone: "us-east-1b", vpcId: "vpc-ffffffff" },
    ];
    await server.store.mutate(
      { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "PutSubnet" },
      async (tx) => {
        for (const s of subnets) tx.put("subnet", s.subnetId, s);
      },
    );
    await elb.send(new CreateLoadBalancerCommand(create("classic", { AvailabilityZones: ["us-east-1a"] })));
  });
  after(() => server.close());

  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  const describeLb = async (name: string) =>
    (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] })))
      .LoadBalancerDescriptions?.[0];

  test("EnableAvailabilityZones adds Ballast zones and returns the full list", async () => {
    const out = await elb.send(
      new EnableAvailabilityZonesForLoadBalancerCommand({
        LoadBalancerName: "classic",
        AvailabilityZones: ["us-east-1b", "us-east-1a"],
      }),
    );
    assert.deepEqual(out.AvailabilityZones, ["us-east-1a", "us-east-1b"]);
    assert.deepEqual((await describeLb("classic"))?.AvailabilityZones, ["us-east-1a", "us-east-1b"]);
    const head = await server.store.head();
    await elb.send(
      new EnableAvailabilityZonesForLoadBalancerCommand({
        LoadBalancerName: "classic",
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    assert.equal(await server.store.head(), head, "enabling an enabled zone appends nothing");
  });

  test("DisableAvailabilityZones removes zones; never the last one", async () => {
    const out = await elb.send(
      new DisableAvailabilityZonesForLoadBalancerCommand({
        LoadBalancerName: "classic",
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    assert.deepEqual(out.AvailabilityZones, ["us-east-1b"]);
    assert.match(
      await rejects(
        () =>
          elb.send(
            new DisableAvailabilityZonesForLoadBalancerCommand({
              LoadBalancerName: "classic",
              AvailabilityZones: ["us-east-1b"],
            }),
          ),
        "InvalidConfigurationRequest",
        409,
      ),
      /at least one/,
    );
  });

  test("zone actions: unknown zones, unknown load balancers, missing members", async () => {
    const enable = (name: string, zones: string[]) => () =>
      elb.send(
        new EnableAvailabilityZonesForLoadBalancerCommand({
          LoadBalancerName: name,
          AvailabilityZones: zones,
        }),
      );
    const disable = (name: string, zones: string[]) => () =>
      elb.send(
        new DisableAvailabilityZonesForLoadBalancerCommand({
          LoadBalancerName: name,
          AvailabilityZones: zones,
        }),
      );
    await rejects(enable("classic", ["eu-west-1a"]), "InvalidConfigurationRequest", 409);
    await rejects(disable("classic", ["eu-west-1a"]), "InvalidConfigurationRequest", 409);
    await rejects(enable("nope", ["us-east-1a"]), "LoadBalancerNotFound");
    await rejects(disable("nope", ["us-east-1a"]), "LoadBalancerNotFound");
    await rejects(
      () =>
        elb.send(new EnableAvailabilityZonesForLoadBalancerCommand({ LoadBalancerName: "classic" } as never)),
      "ValidationError",
    );
  });

  test("CreateLoadBalancer with Subnets: zones and VPC from the registry, security groups stored", async () => {
    await elb.send(
      new CreateLoadBalancerCommand(create("invpc", { Subnets: [SUBNET_A], SecurityGroups: [SG, SG_LONG] })),
    );
    const d = await describeLb("invpc");
    assert.deepEqual(d?.Subnets, [SUBNET_A]);
    assert.deepEqual(d?.AvailabilityZones, ["us-east-1a"]);
    assert.equal(d?.VPCId, VPC);
    assert.deepEqual(d?.SecurityGroups, [SG, SG_LONG]);
    assert.equal(
      (await describeLb("classic"))?.VPCId,
      DEFAULT_VPC.vpcId,
      "AvailabilityZones: the default VPC",
    );
    // Idempotent: the same subnets again.
    const head = await server.store.head();
    await elb.send(
      new CreateLoadBalancerCommand(create("invpc", { Subnets: [SUBNET_A], SecurityGroups: [SG, SG_LONG] })),
    );
    assert.equal(await server.store.head(), head);
  });

  test("CreateLoadBalancer with Subnets: registry and placement errors", async () => {
    const send = (input: CreateLoadBalancerCommandInput) => () =>
      elb.send(new CreateLoadBalancerCommand(input));
    const err = await sdkError(send(create("s1", { Subnets: ["subnet-deadbeef"] })));
    assert.equal(err.code, "SubnetNotFound");
    assert.equal(err.name, "SubnetNotFoundException");
    await rejects(send(create("s1", { Subnets: [SUBNET_A, "subnet-deadbeef"] })), "SubnetNotFound");
    await rejects(send(create("s2", { Subnets: [SUBNET_A, SUBNET_A2] })), "InvalidConfigurationRequest", 409);
    await rejects(
      send(create("s3", { Subnets: [SUBNET_A, OTHER_VPC_B] })),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      send(create("s4", { Subnets: [SUBNET_A], SecurityGroups: ["sg-xyz"] })),
      "InvalidSecurityGroup",
    );
    await rejects(
      send(create("s4", { Subnets: [SUBNET_A], SecurityGroups: ["sg-0123abc"] })),
      "InvalidSecurityGroup",
    );
    // EC2-Classic is retired: security groups go with AvailabilityZones too (the default VPC).
    await elb.send(
      new CreateLoadBalancerCommand(
        create("s5", { AvailabilityZones: ["us-east-1a"], SecurityGroups: [SG] }),
      ),
    );
    const s5 = await describeLb("s5");
    assert.deepEqual(s5?.SecurityGroups, [SG]);
    assert.deepEqual(s5?.SourceSecurityGroup, { OwnerAlias: "000000000000", GroupName: SG });
    assert.equal(s5?.VPCId, DEFAULT_VPC.vpcId);
  });

  test("AttachLoadBalancerToSubnets adds subnets and their zones", async () => {
    const out = await elb.send(
      new AttachLoadBalancerToSubnetsCommand({ LoadBalancerName: "invpc", Subnets: [SUBNET_B] }),
    );
    assert.deepEqual(out.Subnets, [SUBNET_A, SUBNET_B]);
    const d = await describeLb("invpc");
    assert.deepEqual(d?.AvailabilityZones, ["us-east-1a", "us-east-1b"]);
    const head = await server.store.head();
    await elb.send(
      new AttachLoadBalancerToSubnetsCommand({ LoadBalancerName: "invpc", Subnets: [SUBNET_B] }),
    );
    assert.equal(await server.store.head(), head, "attaching an attached subnet appends nothing");
  });

  test("AttachLoadBalancerToSubnets errors", async () => {
    const attach = (name: string, subnets: string[]) => () =>
      elb.send(new AttachLoadBalancerToSubnetsCommand({ LoadBalancerName: name, Subnets: subnets }));
    await rejects(attach("invpc", ["subnet-deadbeef"]), "SubnetNotFound");
    await rejects(attach("invpc", [SUBNET_A2]), "InvalidConfigurationRequest", 409);
    await rejects(attach("invpc", [OTHER_VPC_B]), "InvalidConfigurationRequest", 409);
    await rejects(attach("classic", [SUBNET_A]), "InvalidConfigurationRequest", 409);
    await rejects(attach("nope", [SUBNET_A]), "LoadBalancerNotFound");
    const enable = () =>
      elb.send(
        new EnableAvailabilityZonesForLoadBalancerCommand({
          LoadBalancerName: "invpc",
          AvailabilityZones: ["us-east-1a"],
        }),
      );
    assert.match(await rejects(enable, "InvalidConfigurationRequest", 409), /AttachLoadBalancerToSubnets/);
    const disable = () =>
      elb.send(
        new DisableAvailabilityZonesForLoadBalancerCommand({
          LoadBalancerName: "invpc",
          AvailabilityZones: ["us-east-1a"],
        }),
      );
    await rejects(disable, "InvalidConfigurationRequest", 409);
  });

  test("DetachLoadBalancerFromSubnets removes subnets and their zones; never the last", async () => {
    const out = await elb.send(
      new DetachLoadBalancerFromSubnetsCommand({
        LoadBalancerName: "invpc",
        Subnets: [SUBNET_A, "subnet-deadbeef"],
      }),
    );
    assert.deepEqual(out.Subnets, [SUBNET_B]);
    assert.deepEqual((await describeLb("invpc"))?.AvailabilityZones, ["us-east-1b"]);
    const detach = (name: string, subnets: string[]) => () =>
      elb.send(new DetachLoadBalancerFromSubnetsCommand({ LoadBalancerName: name, Subnets: subnets }));
    await rejects(detach("invpc", [SUBNET_B]), "InvalidConfigurationRequest", 409);
    // A subnet the load balancer is not in is ignored, whatever its VPC.
    const head = await server.store.head();
    const kept = await detach("classic", [SUBNET_B])();
    assert.deepEqual(kept.Subnets, [DEFAULT_VPC.subnetFor("us-east-1b")]);
    assert.equal(await server.store.head(), head);
    await rejects(detach("nope", [SUBNET_B]), "LoadBalancerNotFound");
  });

  test("ApplySecurityGroupsToLoadBalancer replaces the groups of any load balancer (all are in a VPC)", async () => {
    const out = await elb.send(
      new ApplySecurityGroupsToLoadBalancerCommand({ LoadBalancerName: "invpc", SecurityGroups: [SG_LONG] }),
    );
    assert.deepEqual(out.SecurityGroups, [SG_LONG]);
    assert.deepEqual((await describeLb("invpc"))?.SecurityGroups, [SG_LONG]);
    assert.deepEqual((await server.store.get("loadBalancer", "invpc"))?.doc.securityGroups, [SG_LONG]);
    const apply = (name: string, groups: string[]) => () =>
      elb.send(
        new ApplySecurityGroupsToLoadBalancerCommand({ LoadBalancerName: name, SecurityGroups: groups }),
      );
    const err = await sdkError(apply("invpc", ["default"]));
    assert.equal(err.name, "InvalidSecurityGroupException");
    await rejects(apply("invpc", ["sg-12345678", "sg-NOTHEX00"]), "InvalidSecurityGroup");
    // Once answered "Security groups can be applied to only ELBs in VPC." (EC2-Classic): now in the default VPC.
    assert.deepEqual((await apply("classic", [SG])()).SecurityGroups, [SG]);
    assert.deepEqual((await describeLb("classic"))?.SecurityGroups, [SG]);
    await rejects(apply("nope", [SG]), "LoadBalancerNotFound");
  });
});
