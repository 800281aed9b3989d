/**
 * Regions and the default VPC through the three real clients (AWS SDK v3, `aws elb`, boto3)
 * against a real control plane with SigV4: each client works in two regions of its own, which
 * are isolated from each other (the same name in both, Describe sees only its own, quotas
 * apart); a load balancer made with AvailabilityZones is in the region's default VPC and takes
 * security groups; a region name that is no region is refused.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SignedClient } from "../../src/cli/signed-client.js";
import { defaultVpc } from "../../src/model/default-vpc.js";
import { boto3Client, type ConformanceClient, cliClient, sdkClient } from "./support/clients.js";
import { type Json, type JsonObject, list, str } from "./support/json.js";
import {
  ACCESS_KEY_ID,
  type ConformanceServer,
  SECRET_ACCESS_KEY,
  startConformanceServer,
} from "./support/server.js";

const CREDENTIALS = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };

type Factory = (url: string, region: string) => ConformanceClient | Promise<ConformanceClient>;

/** Each client gets two regions nobody else uses, so the three can share one server. */
const CLIENTS: readonly { name: string; make: Factory; regions: readonly [string, string] }[] = [
  { name: "sdk", make: (url, r) => sdkClient(url, CREDENTIALS, r), regions: ["eu-west-1", "eu-central-1"] },
  {
    name: "cli",
    make: (url, r) => cliClient(url, CREDENTIALS, r),
    regions: ["ap-south-1", "ap-northeast-2"],
  },
  {
    name: "boto3",
    make: (url, r) => boto3Client(url, CREDENTIALS, r),
    regions: ["sa-east-1", "ca-central-1"],
  },
];

function createParams(name: string, zones: string[], extra: JsonObject = {}): Json {
  return {
    LoadBalancerName: name,
    Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
    AvailabilityZones: zones,
    ...extra,
  };
}

async function ok(client: ConformanceClient, action: string, params: Json): Promise<Json> {
  const out = await client.call(action, params);
  assert.equal(out.kind, "ok", `${action}: ${JSON.stringify(out)}`);
  return out.kind === "ok" ? out.output : {};
}

async function fails(client: ConformanceClient, action: string, params: Json) {
  const out = await client.call(action, params);
  assert.equal(out.kind, "error", `${action} should fail: ${JSON.stringify(out)}`);
  return out.kind === "error" ? out : { code: "", status: undefined, message: "" };
}

describe("regions through the real clients", () => {
  let server: ConformanceServer;
  before(async () => {
    server = await startConformanceServer();
  });
  after(() => server?.close());

  for (const { name, make, regions } of CLIENTS) {
    const [a, b] = regions;
    test(`${name}: ${a} and ${b} are isolated; AZ-created load balancers are in the default VPC`, async () => {
      const inA = await make(server.url, a);
      const inB = await make(server.url, b);
      try {
        const names = async (c: ConformanceClient) =>
          list(await ok(c, "DescribeLoadBalancers", {}), "LoadBalancerDescriptions").map((d) =>
            str(d, "LoadBalancerName"),
          );
        // The same name in both regions: two load balancers, each with its region's DNS name.
        const dnsA = str(await ok(inA, "CreateLoadBalancer", createParams("same", [`${a}a`])), "DNSName");
        const dnsB = str(await ok(inB, "CreateLoadBalancer", createParams("same", [`${b}b`])), "DNSName");
        assert.match(dnsA, new RegExp(`^same-\\d{10}\\.${a}\\.elb\\.ballast\\.test$`));
        assert.match(dnsB, new RegExp(`^same-\\d{10}\\.${b}\\.elb\\.ballast\\.test$`));
        await ok(inA, "CreateLoadBalancer", createParams("only-a", [`${a}a`, `${a}c`]));
        assert.deepEqual(await names(inA), ["only-a", "same"]);
        assert.deepEqual(await names(inB), ["same"]);
        const missing = await fails(inB, "DescribeLoadBalancers", { LoadBalancerNames: ["only-a"] });
        assert.equal(missing.code, "LoadBalancerNotFound");
        assert.equal(missing.message, "Cannot find Load Balancer only-a");
        const other = await fails(inB, "DescribeInstanceHealth", { LoadBalancerName: "only-a" });
        assert.equal(other.message, "There is no ACTIVE Load Balancer named 'only-a'");
        const zone = await fails(inA, "CreateLoadBalancer", createParams("far", [`${b}a`]));
        assert.equal(zone.code, "InvalidConfigurationRequest");
        assert.equal(zone.status, 409);

        // In the default VPC of its region: default subnets, the default security group.
        const vpc = defaultVpc(a, []);
        const d = list(
          await ok(inA, "DescribeLoadBalancers", { LoadBalancerNames: ["only-a"] }),
          "LoadBalancerDescriptions",
        )[0];
        assert.equal(str(d, "VPCId"), vpc.vpcId);
        assert.deepEqual(list(d, "Subnets"), [vpc.subnetFor(`${a}a`), vpc.subnetFor(`${a}c`)]);
        assert.deepEqual(list(d, "SecurityGroups"), [vpc.securityGroupId]);
        assert.equal(str(d, "SourceSecurityGroup", "OwnerAlias"), "000000000000");
        assert.equal(str(d, "SourceSecurityGroup", "GroupName"), "default");
        const applied = await ok(inA, "ApplySecurityGroupsToLoadBalancer", {
          LoadBalancerName: "only-a",
          SecurityGroups: ["sg-0123456789abcdef0"],
        });
        assert.deepEqual(list(applied, "SecurityGroups"), ["sg-0123456789abcdef0"]);
        // Zones and default subnets stay in step.
        const enabled = await ok(inA, "EnableAvailabilityZonesForLoadBalancer", {
          LoadBalancerName: "only-a",
          AvailabilityZones: [`${a}b`],
        });
        assert.deepEqual(list(enabled, "AvailabilityZones"), [`${a}a`, `${a}c`, `${a}b`]);
        await ok(inA, "DisableAvailabilityZonesForLoadBalancer", {
          LoadBalancerName: "only-a",
          AvailabilityZones: [`${a}a`],
        });
        const after = list(
          await ok(inA, "DescribeLoadBalancers", { LoadBalancerNames: ["only-a"] }),
          "LoadBalancerDescriptions",
        )[0];
        assert.deepEqual(list(after, "Subnets"), [vpc.subnetFor(`${a}c`), vpc.subnetFor(`${a}b`)]);

        // Quotas per region: the admin API sets the limit of the region its request is signed for.
        const admin = new SignedClient(server.url, CREDENTIALS, a);
        const set = await admin.send(
          "PUT",
          "/admin/v1/limits/classic-load-balancers",
          JSON.stringify({ max: 2 }),
          "application/json",
        );
        assert.equal(set.status, 200, set.body);
        const limitOf = async (c: ConformanceClient) => {
          const limit = list(await ok(c, "DescribeAccountLimits", {}), "Limits").find(
            (l) => str(l, "Name") === "classic-load-balancers",
          );
          return str(limit, "Max");
        };
        assert.equal(await limitOf(inA), "2");
        assert.equal(await limitOf(inB), "20");
        assert.equal(
          (await fails(inA, "CreateLoadBalancer", createParams("third", [`${a}a`]))).code,
          "TooManyLoadBalancers",
        );
        await ok(inB, "CreateLoadBalancer", createParams("third", [`${b}a`]));
        assert.deepEqual(await names(inB), ["same", "third"]);
      } finally {
        await inA.close();
        await inB.close();
      }
    });

    test(`${name}: a region name that is no AWS region is refused`, async () => {
      const bad = await make(server.url, "moon-base");
      try {
        const err = await fails(bad, "DescribeLoadBalancers", {});
        assert.equal(err.code, "SignatureDoesNotMatch");
        assert.equal(err.status, 403);
        assert.match(err.message, /Credential should be scoped to a valid region, not 'moon-base'/);
      } finally {
        await bad.close();
      }
    });
  }
});
