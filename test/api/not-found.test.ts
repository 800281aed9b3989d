/**
 * LoadBalancerNotFound, action by action, as ELB words it: "Cannot find Load Balancer NAME" from
 * DescribeLoadBalancers, DescribeLoadBalancerAttributes and DescribeTags; "There is no ACTIVE Load
 * Balancer named 'NAME'" from every other action that names one. DeleteLoadBalancer of a missing
 * name succeeds.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { postForm, startTestServer, type TestServer } from "./support.js";

const NAME = "missing-lb";

/** Each action with the least it needs to get past validation to the load balancer lookup. */
const CALLS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  DescribeLoadBalancers: { "LoadBalancerNames.member.1": NAME },
  DescribeLoadBalancerAttributes: { LoadBalancerName: NAME },
  DescribeTags: { "LoadBalancerNames.member.1": NAME },
  ModifyLoadBalancerAttributes: {
    LoadBalancerName: NAME,
    "LoadBalancerAttributes.CrossZoneLoadBalancing.Enabled": "true",
  },
  DescribeInstanceHealth: { LoadBalancerName: NAME },
  RegisterInstancesWithLoadBalancer: { LoadBalancerName: NAME, "Instances.member.1.InstanceId": "10.0.0.1" },
  DeregisterInstancesFromLoadBalancer: {
    LoadBalancerName: NAME,
    "Instances.member.1.InstanceId": "10.0.0.1",
  },
  ConfigureHealthCheck: {
    LoadBalancerName: NAME,
    "HealthCheck.Target": "TCP:80",
    "HealthCheck.Interval": "30",
    "HealthCheck.Timeout": "5",
    "HealthCheck.UnhealthyThreshold": "2",
    "HealthCheck.HealthyThreshold": "2",
  },
  CreateLoadBalancerListeners: {
    LoadBalancerName: NAME,
    "Listeners.member.1.Protocol": "HTTP",
    "Listeners.member.1.LoadBalancerPort": "80",
    "Listeners.member.1.InstancePort": "80",
  },
  DeleteLoadBalancerListeners: { LoadBalancerName: NAME, "LoadBalancerPorts.member.1": "80" },
  SetLoadBalancerListenerSSLCertificate: {
    LoadBalancerName: NAME,
    LoadBalancerPort: "443",
    SSLCertificateId: "arn:aws:iam::000000000000:server-certificate/x",
  },
  CreateLoadBalancerPolicy: {
    LoadBalancerName: NAME,
    PolicyName: "pp",
    PolicyTypeName: "ProxyProtocolPolicyType",
    "PolicyAttributes.member.1.AttributeName": "ProxyProtocol",
    "PolicyAttributes.member.1.AttributeValue": "true",
  },
  CreateAppCookieStickinessPolicy: { LoadBalancerName: NAME, PolicyName: "app", CookieName: "c" },
  CreateLBCookieStickinessPolicy: { LoadBalancerName: NAME, PolicyName: "lb" },
  DeleteLoadBalancerPolicy: { LoadBalancerName: NAME, PolicyName: "pp" },
  DescribeLoadBalancerPolicies: { LoadBalancerName: NAME },
  SetLoadBalancerPoliciesOfListener: {
    LoadBalancerName: NAME,
    LoadBalancerPort: "80",
    "PolicyNames.member.1": "lb",
  },
  SetLoadBalancerPoliciesForBackendServer: {
    LoadBalancerName: NAME,
    InstancePort: "80",
    "PolicyNames.member.1": "pp",
  },
  AddTags: { "LoadBalancerNames.member.1": NAME, "Tags.member.1.Key": "k", "Tags.member.1.Value": "v" },
  RemoveTags: { "LoadBalancerNames.member.1": NAME, "Tags.member.1.Key": "k" },
  EnableAvailabilityZonesForLoadBalancer: {
    LoadBalancerName: NAME,
    "AvailabilityZones.member.1": "us-east-1a",
  },
  DisableAvailabilityZonesForLoadBalancer: {
    LoadBalancerName: NAME,
    "AvailabilityZones.member.1": "us-east-1a",
  },
  AttachLoadBalancerToSubnets: { LoadBalancerName: NAME, "Subnets.member.1": "subnet-0000000a" },
  DetachLoadBalancerFromSubnets: { LoadBalancerName: NAME, "Subnets.member.1": "subnet-0000000a" },
  ApplySecurityGroupsToLoadBalancer: { LoadBalancerName: NAME, "SecurityGroups.member.1": "sg-12345678" },
};

const CANNOT_FIND = new Set(["DescribeLoadBalancers", "DescribeLoadBalancerAttributes", "DescribeTags"]);

describe("LoadBalancerNotFound messages, per action", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  for (const [action, params] of Object.entries(CALLS)) {
    const expected = CANNOT_FIND.has(action)
      ? `Cannot find Load Balancer ${NAME}`
      : `There is no ACTIVE Load Balancer named &apos;${NAME}&apos;`;
    test(`${action}: ${CANNOT_FIND.has(action) ? "Cannot find" : "no ACTIVE"}`, async () => {
      const head = await server.store.head();
      const res = await postForm(server.url, { Action: action, Version: "2012-06-01", ...params });
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /<Type>Sender<\/Type><Code>LoadBalancerNotFound<\/Code>/);
      assert.ok(res.body.includes(`<Message>${expected}</Message>`), res.body);
      assert.equal(await server.store.head(), head);
    });
  }

  test("DeleteLoadBalancer of a missing name succeeds", async () => {
    const res = await postForm(server.url, {
      Action: "DeleteLoadBalancer",
      Version: "2012-06-01",
      LoadBalancerName: NAME,
    });
    assert.equal(res.status, 200);
  });
});
