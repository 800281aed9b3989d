/**
 * Tags, attributes, zones, subnets, security groups and account limits. The subnets named here are
 * seeded into the registry by support/server.ts (SEEDED_SUBNETS).
 */
import assert from "node:assert/strict";
import { at, list } from "../support/json.js";
import type { ConformanceCase, Step } from "../support/table.js";
import { CREATE, create, fails, LB } from "./common.js";

const SUBNET_A = "subnet-0000000a";
const SUBNET_B = "subnet-0000000b";
const SUBNET_A2 = "subnet-000000a2";
const SG = "sg-0123abcd";
const IN_VPC: Step = create({ AvailabilityZones: [], Subnets: [SUBNET_A] });
const IN_VPC_TWO: Step = create({ AvailabilityZones: [], Subnets: [SUBNET_A, SUBNET_B] });
const TAGGED: Step = create({
  Tags: [
    { Key: "team", Value: "core" },
    { Key: "env", Value: "prod" },
  ],
});
const DESYNC = "elb.http.desyncmitigationmode";

function tags(n: number, prefix = "k"): { Key: string; Value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ Key: `${prefix}${i}`, Value: "v" }));
}

const tagCases: ConformanceCase[] = [
  {
    action: "AddTags",
    name: "adds a tag and overwrites an existing key",
    setup: [TAGGED],
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "team", Value: "edge" }, { Key: "new" }] },
    expect: {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await call("DescribeTags", { LoadBalancerNames: [lb] });
        assert.deepEqual(at(d.kind === "ok" ? d.output : null, "TagDescriptions", 0, "Tags"), [
          { Key: "team", Value: "edge" },
          { Key: "env", Value: "prod" },
          { Key: "new" },
        ]);
      },
    },
  },
  {
    action: "AddTags",
    name: "TooManyTags: an eleventh tag",
    setup: [create({ Tags: tags(10) })],
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "eleventh" }] },
    expect: fails("TooManyTags"),
    cli: true,
  },
  {
    action: "AddTags",
    name: "DuplicateTagKeys",
    setup: [CREATE],
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "a" }, { Key: "a", Value: "b" }] },
    expect: fails("DuplicateTagKeys"),
  },
  {
    action: "AddTags",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "a" }] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "AddTags",
    name: "ValidationError: a key outside the pattern",
    setup: [CREATE],
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "bad#key" }] },
    expect: fails("ValidationError"),
  },
  {
    action: "RemoveTags",
    name: "removes a key, ignores an absent one",
    setup: [TAGGED],
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "team" }, { Key: "absent" }] },
    expect: {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await call("DescribeTags", { LoadBalancerNames: [lb] });
        assert.deepEqual(at(d.kind === "ok" ? d.output : null, "TagDescriptions", 0, "Tags"), [
          { Key: "env", Value: "prod" },
        ]);
      },
    },
  },
  {
    action: "RemoveTags",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerNames: [LB], Tags: [{ Key: "team" }] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DescribeTags",
    name: "the tags of a load balancer",
    setup: [TAGGED],
    params: { LoadBalancerNames: [LB] },
    expect: {
      ok: (out, { lb }) =>
        assert.deepEqual(at(out, "TagDescriptions"), [
          {
            LoadBalancerName: lb,
            Tags: [
              { Key: "team", Value: "core" },
              { Key: "env", Value: "prod" },
            ],
          },
        ]),
    },
  },
  {
    action: "DescribeTags",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerNames: [LB] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DescribeTags",
    name: "ValidationError: 21 names",
    params: { LoadBalancerNames: Array.from({ length: 21 }, (_, i) => `n${i}`) },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];

const DEFAULT_ATTRIBUTES = {
  CrossZoneLoadBalancing: { Enabled: false },
  AccessLog: { Enabled: false },
  ConnectionDraining: { Enabled: false, Timeout: 300 },
  ConnectionSettings: { IdleTimeout: 60 },
  AdditionalAttributes: [{ Key: DESYNC, Value: "defensive" }],
};

const attributeCases: ConformanceCase[] = [
  {
    action: "DescribeLoadBalancerAttributes",
    name: "ELB's defaults",
    setup: [CREATE],
    params: { LoadBalancerName: LB },
    expect: { ok: (out) => assert.deepEqual(at(out, "LoadBalancerAttributes"), DEFAULT_ATTRIBUTES) },
  },
  {
    action: "DescribeLoadBalancerAttributes",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "echoes what was given; Describe reads the merge",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      LoadBalancerAttributes: {
        CrossZoneLoadBalancing: { Enabled: true },
        ConnectionSettings: { IdleTimeout: 4000 },
        AccessLog: { Enabled: true, S3BucketName: "my-logs", EmitInterval: 5, S3BucketPrefix: "web" },
        AdditionalAttributes: [{ Key: DESYNC, Value: "strictest" }],
      },
    },
    expect: {
      revisions: 1,
      ok: async (out, { lb, call }) => {
        assert.equal(at(out, "LoadBalancerName"), lb);
        assert.deepEqual(at(out, "LoadBalancerAttributes", "ConnectionSettings"), { IdleTimeout: 4000 });
        const d = await call("DescribeLoadBalancerAttributes", { LoadBalancerName: lb });
        assert.deepEqual(at(d.kind === "ok" ? d.output : null, "LoadBalancerAttributes"), {
          ...DEFAULT_ATTRIBUTES,
          CrossZoneLoadBalancing: { Enabled: true },
          ConnectionSettings: { IdleTimeout: 4000 },
          AccessLog: { Enabled: true, S3BucketName: "my-logs", EmitInterval: 5, S3BucketPrefix: "web" },
          AdditionalAttributes: [{ Key: DESYNC, Value: "strictest" }],
        });
      },
    },
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } } },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "LoadBalancerAttributeNotFound: an unknown additional attribute",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      LoadBalancerAttributes: { AdditionalAttributes: [{ Key: "elb.x", Value: "y" }] },
    },
    expect: fails("LoadBalancerAttributeNotFound"),
    cli: true,
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "InvalidConfigurationRequest: an access log without a bucket",
    setup: [CREATE],
    params: { LoadBalancerName: LB, LoadBalancerAttributes: { AccessLog: { Enabled: true } } },
    expect: fails("InvalidConfigurationRequest", 409),
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "InvalidConfigurationRequest: EmitInterval 10",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      LoadBalancerAttributes: { AccessLog: { Enabled: true, S3BucketName: "logs", EmitInterval: 10 } },
    },
    expect: fails("InvalidConfigurationRequest", 409),
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "ValidationError: IdleTimeout 4001",
    setup: [CREATE],
    params: { LoadBalancerName: LB, LoadBalancerAttributes: { ConnectionSettings: { IdleTimeout: 4001 } } },
    expect: fails("ValidationError"),
  },
  {
    action: "ModifyLoadBalancerAttributes",
    name: "ValidationError: draining Timeout 0",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      LoadBalancerAttributes: { ConnectionDraining: { Enabled: true, Timeout: 0 } },
    },
    expect: fails("ValidationError"),
  },
];

const zoneCases: ConformanceCase[] = [
  {
    action: "EnableAvailabilityZonesForLoadBalancer",
    name: "adds a zone, returns all",
    setup: [CREATE],
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1b"] },
    expect: {
      revisions: 1,
      ok: (out) => assert.deepEqual(list(out, "AvailabilityZones"), ["us-east-1a", "us-east-1b"]),
    },
  },
  {
    action: "EnableAvailabilityZonesForLoadBalancer",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1b"] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "EnableAvailabilityZonesForLoadBalancer",
    name: "InvalidConfigurationRequest: a zone Ballast has no agents in",
    setup: [CREATE],
    params: { LoadBalancerName: LB, AvailabilityZones: ["eu-west-1a"] },
    expect: fails("InvalidConfigurationRequest", 409),
  },
  {
    action: "DisableAvailabilityZonesForLoadBalancer",
    name: "removes a zone, returns the rest",
    setup: [create({ AvailabilityZones: ["us-east-1a", "us-east-1b"] })],
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1a"] },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(list(out, "AvailabilityZones"), ["us-east-1b"]) },
  },
  {
    action: "DisableAvailabilityZonesForLoadBalancer",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1a"] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DisableAvailabilityZonesForLoadBalancer",
    name: "InvalidConfigurationRequest: the last zone",
    setup: [CREATE],
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1a"] },
    expect: fails("InvalidConfigurationRequest", 409),
    cli: true,
  },
  {
    action: "AttachLoadBalancerToSubnets",
    name: "adds a subnet and its zone",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, Subnets: [SUBNET_B] },
    expect: {
      revisions: 1,
      ok: async (out, { lb, call }) => {
        assert.deepEqual(list(out, "Subnets"), [SUBNET_A, SUBNET_B]);
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        const desc = at(d.kind === "ok" ? d.output : null, "LoadBalancerDescriptions", 0);
        assert.deepEqual(list(desc, "AvailabilityZones"), ["us-east-1a", "us-east-1b"]);
        assert.equal(at(desc, "VPCId"), "vpc-0a1b2c3d");
      },
    },
  },
  {
    action: "AttachLoadBalancerToSubnets",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, Subnets: [SUBNET_B] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "AttachLoadBalancerToSubnets",
    name: "SubnetNotFound: not in the registry",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, Subnets: ["subnet-deadbeef"] },
    expect: fails("SubnetNotFound"),
  },
  {
    action: "AttachLoadBalancerToSubnets",
    name: "InvalidConfigurationRequest: a second subnet in a zone",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, Subnets: [SUBNET_A2] },
    expect: fails("InvalidConfigurationRequest", 409),
  },
  {
    action: "DetachLoadBalancerFromSubnets",
    name: "removes a subnet and its zone",
    setup: [IN_VPC_TWO],
    params: { LoadBalancerName: LB, Subnets: [SUBNET_A] },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(list(out, "Subnets"), [SUBNET_B]) },
  },
  {
    action: "DetachLoadBalancerFromSubnets",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, Subnets: [SUBNET_A] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DetachLoadBalancerFromSubnets",
    name: "InvalidConfigurationRequest: the last subnet",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, Subnets: [SUBNET_A] },
    expect: fails("InvalidConfigurationRequest", 409),
  },
  {
    action: "ApplySecurityGroupsToLoadBalancer",
    name: "replaces the security groups of a VPC load balancer",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, SecurityGroups: [SG] },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(list(out, "SecurityGroups"), [SG]) },
  },
  {
    action: "ApplySecurityGroupsToLoadBalancer",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, SecurityGroups: [SG] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "ApplySecurityGroupsToLoadBalancer",
    name: "InvalidSecurityGroup: not in EC2's form",
    setup: [IN_VPC],
    params: { LoadBalancerName: LB, SecurityGroups: ["default"] },
    expect: fails("InvalidSecurityGroup"),
  },
  {
    action: "ApplySecurityGroupsToLoadBalancer",
    // Once "Security groups can be applied to only ELBs in VPC." (EC2-Classic); now the default VPC.
    name: "replaces the default security group of a load balancer made with AvailabilityZones",
    setup: [CREATE],
    params: { LoadBalancerName: LB, SecurityGroups: [SG] },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(list(out, "SecurityGroups"), [SG]) },
  },
];

const limitCases: ConformanceCase[] = [
  {
    action: "DescribeAccountLimits",
    name: "ELB's default limits",
    params: {},
    expect: {
      ok: (out) =>
        assert.deepEqual(at(out, "Limits"), [
          { Name: "classic-load-balancers", Max: "20" },
          { Name: "classic-listeners", Max: "100" },
          { Name: "classic-registered-instances", Max: "1000" },
        ]),
    },
  },
  {
    action: "DescribeAccountLimits",
    name: "a page of one has a NextMarker",
    params: { PageSize: 1 },
    expect: {
      ok: (out) => {
        assert.equal(list(out, "Limits").length, 1);
        assert.equal(typeof at(out, "NextMarker"), "string");
      },
    },
  },
  {
    action: "DescribeAccountLimits",
    name: "ValidationError: PageSize 401",
    params: { PageSize: 401 },
    expect: fails("ValidationError"),
  },
];

export const attributesTagsZonesCases: readonly ConformanceCase[] = [
  ...tagCases,
  ...attributeCases,
  ...zoneCases,
  ...limitCases,
];
