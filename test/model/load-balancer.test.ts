import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildLoadBalancer,
  defaultHealthCheck,
  type LoadBalancerSpec,
  loadBalancerDnsName,
  loadBalancerIdFrom,
  matchesSpec,
  withInstancesDeregistered,
  withInstancesRegistered,
} from "../../src/model/load-balancer.js";

const dns = { region: "us-east-1", dnsDomain: "ballast.test" };
const spec: LoadBalancerSpec = {
  name: "Web",
  scheme: "internet-facing",
  listeners: [
    { protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 },
    { protocol: "TCP", loadBalancerPort: 22, instanceProtocol: "TCP", instancePort: 2222 },
  ],
  availabilityZones: ["us-east-1a"],
  subnets: [],
  securityGroups: [],
  tags: [],
};

test("default health check is TCP on the first listener's instance port", () => {
  assert.deepEqual(defaultHealthCheck(spec.listeners), {
    target: "TCP:8080",
    interval: 30,
    timeout: 5,
    unhealthyThreshold: 2,
    healthyThreshold: 10,
  });
});

test("DNS names and ids", () => {
  assert.equal(
    loadBalancerDnsName("Web", "1234567890", "internet-facing", dns),
    "Web-1234567890.us-east-1.elb.ballast.test",
  );
  assert.equal(
    loadBalancerDnsName("Web", "1234567890", "internal", dns),
    "internal-Web-1234567890.us-east-1.elb.ballast.test",
  );
  assert.equal(loadBalancerIdFrom(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])), "1123456789");
  assert.match(loadBalancerIdFrom(new Uint8Array(3)), /^\d{10}$/);
});

test("build, compare, register and deregister", () => {
  const lb = buildLoadBalancer(spec, { id: "1234567890", createdTime: "2026-01-01T00:00:00.000Z" }, dns);
  assert.equal(lb.dnsName, "Web-1234567890.us-east-1.elb.ballast.test");
  assert.ok(matchesSpec(lb, { ...spec, listeners: [...spec.listeners].reverse(), tags: [{ key: "x" }] }));
  assert.ok(!matchesSpec(lb, { ...spec, scheme: "internal" }));
  assert.ok(!matchesSpec(lb, { ...spec, availabilityZones: ["us-east-1b"] }));
  const one = withInstancesRegistered(lb, ["i-1", "i-2", "i-1"]);
  assert.deepEqual(one.instances, ["i-1", "i-2"]);
  assert.equal(withInstancesRegistered(one, ["i-2"]), one, "no change returns the same value");
  assert.deepEqual(withInstancesDeregistered(one, ["i-1"]).instances, ["i-2"]);
});
