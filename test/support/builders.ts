/** Test builders for model values: valid by default, overridable per test. */
import type { NodeSpec } from "../../src/model/node-spec.js";
import { type NodeSource, resolveNode } from "../../src/model/resolve-node.js";
import type { Instance, LoadBalancer } from "../../src/model/types.js";
import type { NodeAssignment } from "../../src/proxy/runtime.js";
import type { RevisionMeta } from "../../src/store/store.js";

export function aLoadBalancer(overrides: Partial<LoadBalancer> = {}): LoadBalancer {
  const name = overrides.name ?? "web";
  return {
    name,
    id: "1234567890",
    dnsName: `${name}-1234567890.us-east-1.elb.ballast.internal`,
    createdTime: "2026-11-23T00:00:00.000Z",
    scheme: "internet-facing",
    listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 }],
    availabilityZones: ["us-east-1a", "us-east-1b"],
    subnets: [],
    securityGroups: [],
    healthCheck: {
      target: "TCP:8080",
      interval: 30,
      timeout: 5,
      unhealthyThreshold: 2,
      healthyThreshold: 10,
    },
    instances: [],
    tags: [],
    ...overrides,
  };
}

export function anInstance(overrides: Partial<Instance> = {}): Instance {
  return { instanceId: "i-0000000000000001", address: "127.0.0.1", zone: "us-east-1a", ...overrides };
}

export function aNodeSource(overrides: Partial<NodeSource> = {}): NodeSource {
  return {
    name: "web",
    revision: 1,
    dnsName: "web-1.us-east-1.elb.ballast.internal",
    listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 }],
    healthCheck: {
      target: "TCP:8080",
      interval: 30,
      timeout: 5,
      unhealthyThreshold: 2,
      healthyThreshold: 10,
    },
    backends: [],
    ...overrides,
  };
}

/** A resolved node spec, from a node source with `overrides`. */
export function aNodeSpec(overrides: Partial<NodeSource> = {}): NodeSpec {
  return resolveNode(aNodeSource(overrides));
}

/** Node assignments written in the API's words, resolved as the compiler resolves them. */
export function resolved(
  assignments: readonly { readonly address: string; readonly spec: NodeSource }[],
): NodeAssignment[] {
  return assignments.map((a) => ({ address: a.address, spec: resolveNode(a.spec) }));
}

let requestCounter = 0;
export function meta(action = "Test", principal = "tester"): RevisionMeta {
  requestCounter += 1;
  return { principal, sourceIp: "127.0.0.1", requestId: `req-${requestCounter}`, action };
}
