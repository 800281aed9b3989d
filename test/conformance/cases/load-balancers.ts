/** CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer. */
import assert from "node:assert/strict";
import { defaultVpc } from "../../../src/model/default-vpc.js";
import { at, list, num, str } from "../support/json.js";
import type { ConformanceCase } from "../support/table.js";
import { CREATE, create, createInput, fails, HTTP_LISTENER, LB } from "./common.js";

const HTTPS_LISTENER = {
  Protocol: "HTTPS",
  LoadBalancerPort: 443,
  InstanceProtocol: "HTTP",
  InstancePort: 8080,
  SSLCertificateId: "arn:aws:iam::123456789012:server-certificate/conformance",
};

function tags(n: number, key = (i: number) => `k${i}`) {
  return Array.from({ length: n }, (_, i) => ({ Key: key(i), Value: `v${i}` }));
}

export const createLoadBalancerCases: readonly ConformanceCase[] = [
  {
    action: "CreateLoadBalancer",
    name: "an HTTP listener in one zone answers the DNSName",
    params: createInput(),
    expect: {
      revisions: 1,
      ok: (out, { lb }) => {
        assert.match(str(out, "DNSName"), new RegExp(`^${lb}-[a-z0-9]+\\.us-east-1\\.elb\\.ballast\\.test$`));
      },
    },
  },
  {
    action: "CreateLoadBalancer",
    name: "an internal TCP load balancer in both zones with tags",
    params: createInput({
      Listeners: [{ Protocol: "TCP", LoadBalancerPort: 5432, InstancePort: 5432 }],
      AvailabilityZones: ["us-east-1a", "us-east-1b"],
      Scheme: "internal",
      Tags: [{ Key: "team", Value: "core" }, { Key: "env" }],
    }),
    expect: {
      revisions: 1,
      ok: async (out, { lb, call }) => {
        assert.match(str(out, "DNSName"), new RegExp(`^internal-${lb}-`));
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        assert.equal(d.kind, "ok");
        const desc = d.kind === "ok" ? at(d.output, "LoadBalancerDescriptions", 0) : undefined;
        assert.equal(str(desc, "Scheme"), "internal");
        assert.deepEqual(list(desc, "AvailabilityZones"), ["us-east-1a", "us-east-1b"]);
        assert.equal(str(desc, "ListenerDescriptions", 0, "Listener", "InstanceProtocol"), "TCP");
        assert.equal(at(desc, "CanonicalHostedZoneName"), undefined, "only internet-facing has one");
      },
    },
  },
  {
    action: "CreateLoadBalancer",
    name: "protocols are case-insensitive and stored upper case",
    params: createInput({ Listeners: [{ Protocol: "http", LoadBalancerPort: 80, InstancePort: 80 }] }),
    expect: {
      ok: async (_out, { lb, call }) => {
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        const l =
          d.kind === "ok"
            ? at(d.output, "LoadBalancerDescriptions", 0, "ListenerDescriptions", 0)
            : undefined;
        assert.equal(str(l, "Listener", "Protocol"), "HTTP");
        assert.equal(str(l, "Listener", "InstanceProtocol"), "HTTP");
      },
    },
  },
  {
    action: "CreateLoadBalancer",
    name: "creating the same definition again returns the same DNSName and appends nothing",
    setup: [CREATE],
    params: createInput(),
    expect: {
      revisions: 0,
      ok: (out, { setup }) => assert.equal(str(out, "DNSName"), str(setup[0], "DNSName")),
    },
  },
  {
    action: "CreateLoadBalancer",
    name: "DuplicateLoadBalancerName: the name exists with other listeners",
    setup: [CREATE],
    params: createInput({ Listeners: [{ ...HTTP_LISTENER, LoadBalancerPort: 81 }] }),
    expect: fails("DuplicateLoadBalancerName"),
    cli: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "TooManyLoadBalancers: the 21st load balancer",
    setup: Array.from({ length: 20 }, (_, i) => create({ LoadBalancerName: `${LB}-${i}` })),
    params: createInput(),
    expect: fails("TooManyLoadBalancers"),
    cli: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "CertificateNotFound: an HTTPS listener's certificate does not resolve",
    params: createInput({ Listeners: [HTTPS_LISTENER] }),
    expect: fails("CertificateNotFound"),
    cli: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "InvalidConfigurationRequest (409): a zone Ballast has no agents in",
    params: createInput({ AvailabilityZones: ["us-west-2a"] }),
    expect: fails("InvalidConfigurationRequest", 409),
    cli: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "SubnetNotFound: subnets instead of zones",
    params: { LoadBalancerName: LB, Listeners: [HTTP_LISTENER], Subnets: ["subnet-0123456789abcdef0"] },
    expect: fails("SubnetNotFound"),
  },
  {
    action: "CreateLoadBalancer",
    name: "InvalidSecurityGroup: a security group id not in EC2's form",
    params: createInput({ SecurityGroups: ["sg-not-hex"] }),
    expect: fails("InvalidSecurityGroup"),
  },
  {
    action: "CreateLoadBalancer",
    name: "InvalidScheme: neither internet-facing nor internal",
    params: createInput({ Scheme: "external" }),
    expect: fails("InvalidScheme"),
  },
  {
    action: "CreateLoadBalancer",
    name: "TooManyTags: eleven tags",
    params: createInput({ Tags: tags(11) }),
    expect: fails("TooManyTags"),
  },
  {
    action: "CreateLoadBalancer",
    name: "DuplicateTagKeys: one key twice",
    params: createInput({ Tags: tags(2, () => "same") }),
    expect: fails("DuplicateTagKeys"),
  },
  {
    action: "CreateLoadBalancer",
    name: "DuplicateListener: two listeners on one port",
    params: createInput({ Listeners: [HTTP_LISTENER, { ...HTTP_LISTENER, InstancePort: 9090 }] }),
    expect: fails("DuplicateListener"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: an unknown listener protocol",
    params: createInput({ Listeners: [{ Protocol: "UDP", LoadBalancerPort: 53, InstancePort: 53 }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: HTTP in front of TCP",
    params: createInput({ Listeners: [{ ...HTTP_LISTENER, InstanceProtocol: "TCP" }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: HTTPS without a certificate",
    params: createInput({ Listeners: [{ Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 80 }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: a name of 33 characters",
    params: createInput({ LoadBalancerName: "a".repeat(33) }),
    expect: fails("ValidationError"),
    cli: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: an underscore in the name",
    params: createInput({ LoadBalancerName: "bad_name" }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: a leading hyphen",
    params: createInput({ LoadBalancerName: "-leading" }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: an empty name",
    params: createInput({ LoadBalancerName: "" }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: load balancer port 0",
    params: createInput({ Listeners: [{ ...HTTP_LISTENER, LoadBalancerPort: 0 }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: instance port 65536 (over the model's max)",
    params: createInput({ Listeners: [{ ...HTTP_LISTENER, InstancePort: 65536 }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: instance port 0 (under the model's min)",
    params: createInput({ Listeners: [{ ...HTTP_LISTENER, InstancePort: 0 }] }),
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: Listeners missing",
    params: { LoadBalancerName: LB, AvailabilityZones: ["us-east-1a"] },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: a listener without InstancePort",
    params: createInput({ Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80 }] }),
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: LoadBalancerName missing",
    params: { Listeners: [HTTP_LISTENER], AvailabilityZones: ["us-east-1a"] },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: neither zones nor subnets",
    params: { LoadBalancerName: LB, Listeners: [HTTP_LISTENER] },
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: both zones and subnets",
    params: createInput({ Subnets: ["subnet-0123456789abcdef0"] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: a tag key of 129 characters",
    params: createInput({ Tags: [{ Key: "k".repeat(129), Value: "v" }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: a tag key with characters outside the model's pattern",
    params: createInput({ Tags: [{ Key: "a*b", Value: "v" }] }),
    expect: fails("ValidationError"),
  },
  {
    action: "CreateLoadBalancer",
    name: "ValidationError: an empty tag key (under the model's min length)",
    params: createInput({ Tags: [{ Key: "", Value: "v" }] }),
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];

export const describeLoadBalancersCases: readonly ConformanceCase[] = [
  {
    action: "DescribeLoadBalancers",
    name: "by name: the full description with defaults",
    setup: [CREATE],
    params: { LoadBalancerNames: [LB] },
    expect: {
      revisions: 0,
      ok: (out, { lb, setup }) => {
        const all = list(out, "LoadBalancerDescriptions");
        assert.equal(all.length, 1);
        const d = all[0];
        assert.equal(str(d, "LoadBalancerName"), lb);
        assert.equal(str(d, "DNSName"), str(setup[0], "DNSName"));
        assert.equal(str(d, "CanonicalHostedZoneName"), str(setup[0], "DNSName"));
        assert.equal(typeof str(d, "CanonicalHostedZoneNameID"), "string");
        assert.equal(str(d, "Scheme"), "internet-facing");
        assert.deepEqual(at(d, "ListenerDescriptions", 0, "Listener"), HTTP_LISTENER);
        assert.deepEqual(at(d, "HealthCheck"), {
          Target: "TCP:8080",
          Interval: 30,
          Timeout: 5,
          UnhealthyThreshold: 2,
          HealthyThreshold: 10,
        });
        assert.deepEqual(list(d, "AvailabilityZones"), ["us-east-1a"]);
        assert.deepEqual(list(d, "Instances"), []);
        // In us-east-1's default VPC (EC2-Classic is retired): its default subnet and security group.
        const vpc = defaultVpc("us-east-1", []);
        assert.equal(str(d, "VPCId"), vpc.vpcId);
        assert.deepEqual(list(d, "Subnets"), [vpc.subnetFor("us-east-1a")]);
        assert.deepEqual(list(d, "SecurityGroups"), [vpc.securityGroupId]);
        assert.equal(str(d, "SourceSecurityGroup", "OwnerAlias"), "000000000000");
        assert.equal(str(d, "SourceSecurityGroup", "GroupName"), "default");
        const created = Date.parse(str(d, "CreatedTime"));
        assert.ok(Math.abs(created - Date.now()) < 5 * 60_000, `CreatedTime ${str(d, "CreatedTime")}`);
      },
    },
  },
  {
    action: "DescribeLoadBalancers",
    name: "all load balancers, in name order",
    setup: [create({ LoadBalancerName: `${LB}-b` }), create({ LoadBalancerName: `${LB}-a` })],
    params: {},
    expect: {
      ok: (out, { lb }) => {
        const names = list(out, "LoadBalancerDescriptions").map((d) => str(d, "LoadBalancerName"));
        assert.deepEqual(names, [`${lb}-a`, `${lb}-b`]);
        assert.equal(at(out, "NextMarker"), undefined);
      },
    },
  },
  {
    action: "DescribeLoadBalancers",
    name: "a name asked twice is described once",
    setup: [CREATE],
    params: { LoadBalancerNames: [LB, LB] },
    expect: { ok: (out) => assert.equal(list(out, "LoadBalancerDescriptions").length, 1) },
  },
  {
    action: "DescribeLoadBalancers",
    name: "PageSize 1 gives one description and a NextMarker",
    setup: [create({ LoadBalancerName: `${LB}-a` }), create({ LoadBalancerName: `${LB}-b` })],
    params: { PageSize: 1 },
    expect: {
      ok: (out, { lb }) => {
        assert.deepEqual(
          list(out, "LoadBalancerDescriptions").map((d) => str(d, "LoadBalancerName")),
          [`${lb}-a`],
        );
        assert.ok(str(out, "NextMarker").length > 0);
      },
    },
  },
  {
    action: "DescribeLoadBalancers",
    name: "the NextMarker of the first page gives the second",
    setup: [
      create({ LoadBalancerName: `${LB}-a` }),
      create({ LoadBalancerName: `${LB}-b` }),
      { action: "DescribeLoadBalancers", params: { PageSize: 1 } },
    ],
    params: ({ setup }) => ({ PageSize: 1, Marker: str(setup[2], "NextMarker") }),
    expect: {
      ok: (out, { lb }) => {
        assert.deepEqual(
          list(out, "LoadBalancerDescriptions").map((d) => str(d, "LoadBalancerName")),
          [`${lb}-b`],
        );
        assert.equal(at(out, "NextMarker"), undefined);
      },
    },
  },
  {
    action: "DescribeLoadBalancers",
    name: "LoadBalancerNotFound: an unknown name",
    params: { LoadBalancerNames: [LB] },
    expect: fails("LoadBalancerNotFound"),
    cli: true,
  },
  {
    action: "DescribeLoadBalancers",
    name: "LoadBalancerNotFound: one known and one unknown name",
    setup: [CREATE],
    params: { LoadBalancerNames: [LB, `${LB}-missing`] },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DescribeLoadBalancers",
    name: "ValidationError: PageSize 401",
    params: { PageSize: 401 },
    expect: fails("ValidationError"),
    cli: true,
  },
  {
    action: "DescribeLoadBalancers",
    name: "ValidationError: PageSize 0 (under the model's min)",
    params: { PageSize: 0 },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "DescribeLoadBalancers",
    name: "ValidationError: a Marker Ballast never issued",
    params: { Marker: "not a marker!" },
    expect: fails("ValidationError"),
  },
];

export const deleteLoadBalancerCases: readonly ConformanceCase[] = [
  {
    action: "DeleteLoadBalancer",
    name: "an existing load balancer is gone afterwards",
    setup: [CREATE],
    params: { LoadBalancerName: LB },
    expect: {
      revisions: 1,
      ok: async (out, { lb, call }) => {
        assert.deepEqual(out, {});
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        assert.equal(d.kind === "error" ? d.code : d.kind, "LoadBalancerNotFound");
      },
    },
  },
  {
    action: "DeleteLoadBalancer",
    name: "a missing load balancer: success, nothing appended",
    params: { LoadBalancerName: LB },
    expect: { revisions: 0, ok: (out) => assert.deepEqual(out, {}) },
  },
  {
    action: "DeleteLoadBalancer",
    name: "ValidationError: LoadBalancerName missing",
    setup: [CREATE],
    params: {},
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "DeleteLoadBalancer",
    name: "the other load balancers stay",
    setup: [CREATE, create({ LoadBalancerName: `${LB}-other` })],
    params: { LoadBalancerName: LB },
    expect: {
      ok: async (_out, { lb, call }) => {
        const d = await call("DescribeLoadBalancers", {});
        const names = d.kind === "ok" ? list(d.output, "LoadBalancerDescriptions") : [];
        assert.deepEqual(
          names.map((x) => str(x, "LoadBalancerName")),
          [`${lb}-other`],
        );
        assert.equal(num(names[0], "ListenerDescriptions", 0, "Listener", "LoadBalancerPort"), 80);
      },
    },
  },
];
