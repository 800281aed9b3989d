/**
 * DescribeLoadBalancers renders a load balancer once per stored document: the cached bytes equal
 * a fresh rendering, a changed document or a changed default VPC renders again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBalancerDescription, renderedDescription } from "../../src/api/aws-query/describe.js";
import { RegionVpc, type SubnetReader } from "../../src/api/aws-query/region-vpc.js";
import { toXml } from "../../src/api/aws-query/xml.js";
import type { LoadBalancer, Subnet } from "../../src/model/types.js";
import { aLoadBalancer } from "../support/builders.js";

function registry(subnets: Subnet[]): SubnetReader {
  return {
    get: async (id) => subnets.find((s) => s.subnetId === id),
    list: async () => subnets,
  };
}

const fresh = (lb: LoadBalancer, vpc: RegionVpc): string => toXml(loadBalancerDescription(vpc.view(lb)));

describe("DescribeLoadBalancers: rendered descriptions", () => {
  it("renders an unchanged document once, with the bytes of a fresh rendering", async () => {
    const vpc = await RegionVpc.load(registry([]), "us-east-1");
    const lb = Object.freeze(aLoadBalancer({ name: "web", instances: ["i-1"] }));
    const first = renderedDescription(lb, vpc);
    assert.equal(first.xml, fresh(lb, vpc));
    assert.match(first.xml, /<LoadBalancerName>web<\/LoadBalancerName>/);
    assert.equal(renderedDescription(lb, vpc), first, "the same rendering, not a new one");
    // A changed load balancer is a new document: rendered anew.
    const changed = Object.freeze({ ...lb, instances: ["i-1", "i-2"] });
    const second = renderedDescription(changed, vpc);
    assert.notEqual(second, first);
    assert.equal(second.xml, fresh(changed, vpc));
    assert.match(second.xml, /<InstanceId>i-2<\/InstanceId>/);
  });

  it("keeps nothing for a document that is not frozen (a fresh parse, or one that may still change)", async () => {
    const vpc = await RegionVpc.load(registry([]), "us-east-1");
    const lb = aLoadBalancer({ name: "loose" });
    const first = renderedDescription(lb, vpc);
    const second = renderedDescription(lb, vpc);
    assert.notEqual(second, first, "rendered again");
    assert.equal(second.xml, first.xml);
    assert.equal(first.xml, fresh(lb, vpc));
  });

  it("renders again when the region's default VPC changes, for a load balancer described in it", async () => {
    const legacy = Object.freeze({ ...aLoadBalancer({ name: "old" }), vpcId: undefined, subnets: [] });
    const before = await RegionVpc.load(registry([]), "us-east-1");
    const a = renderedDescription(legacy, before);
    const subnet: Subnet = {
      subnetId: "subnet-0123456789abcdef0",
      zone: "us-east-1a",
      vpcId: "vpc-0123456789abcdef0",
      defaultForAz: true,
    };
    const after = await RegionVpc.load(registry([subnet]), "us-east-1");
    assert.notEqual(after.fingerprint, before.fingerprint);
    const b = renderedDescription(legacy, after);
    assert.equal(b.xml, fresh(legacy, after));
    assert.match(b.xml, /<VPCId>vpc-0123456789abcdef0<\/VPCId>/);
    assert.doesNotMatch(a.xml, /vpc-0123456789abcdef0/);
    // Another region's registry does not change this region's fingerprint.
    const elsewhere = await RegionVpc.load(registry([{ ...subnet, zone: "eu-west-1a" }]), "us-east-1");
    assert.equal(elsewhere.fingerprint, before.fingerprint);
  });
});
