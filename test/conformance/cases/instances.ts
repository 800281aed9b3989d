/** RegisterInstancesWithLoadBalancer, DeregisterInstancesFromLoadBalancer, DescribeInstanceHealth. */
import assert from "node:assert/strict";
import { type Json, list, str } from "../support/json.js";
import type { ConformanceCase } from "../support/table.js";
import { CREATE, fails, instances, LB, register } from "./common.js";

/** IPv4 addresses are instance ids as is; `i-…` ids resolve through the inventory (empty here). */
const A = "10.0.0.1";
const B = "10.0.0.2";
const UNKNOWN = "i-0123456789abcdef0";

function ids(out: Json): string[] {
  return list(out, "Instances").map((i) => str(i, "InstanceId"));
}

export const registerCases: readonly ConformanceCase[] = [
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "two instances: the full list back",
    setup: [CREATE],
    params: { LoadBalancerName: LB, Instances: instances(A, B) },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(ids(out).sort(), [A, B]) },
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "adding to registered instances answers all of them",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(B) },
    expect: {
      ok: async (out, { lb, call }) => {
        assert.deepEqual(ids(out).sort(), [A, B]);
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        assert.deepEqual(
          ids(d.kind === "ok" ? (list(d.output, "LoadBalancerDescriptions")[0] ?? {}) : {}).sort(),
          [A, B],
        );
      },
    },
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "registering a registered instance again appends nothing",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(A) },
    expect: { revisions: 0, ok: (out) => assert.deepEqual(ids(out), [A]) },
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, Instances: instances(A) },
    expect: fails("LoadBalancerNotFound"),
    cli: true,
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "InvalidInstance: an instance id that resolves to nothing",
    setup: [CREATE],
    params: { LoadBalancerName: LB, Instances: instances(UNKNOWN) },
    expect: fails("InvalidInstance"),
    cli: true,
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "InvalidInstance: one bad id rejects the whole call",
    setup: [CREATE],
    params: { LoadBalancerName: LB, Instances: instances(A, UNKNOWN) },
    expect: fails("InvalidInstance"),
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "ValidationError: Instances missing",
    setup: [CREATE],
    params: { LoadBalancerName: LB },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "RegisterInstancesWithLoadBalancer",
    name: "ValidationError: LoadBalancerName missing",
    params: { Instances: instances(A) },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];

export const deregisterCases: readonly ConformanceCase[] = [
  {
    action: "DeregisterInstancesFromLoadBalancer",
    name: "one of two: the remaining list back",
    setup: [CREATE, register(A, B)],
    params: { LoadBalancerName: LB, Instances: instances(A) },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(ids(out), [B]) },
  },
  {
    action: "DeregisterInstancesFromLoadBalancer",
    name: "the last one: an empty list",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(A) },
    expect: { revisions: 1, ok: (out) => assert.deepEqual(ids(out), []) },
  },
  {
    action: "DeregisterInstancesFromLoadBalancer",
    name: "InvalidInstance: an instance that is not registered, nothing removed",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(A, B) },
    expect: fails("InvalidInstance"),
    cli: true,
  },
  {
    action: "DeregisterInstancesFromLoadBalancer",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, Instances: instances(A) },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DeregisterInstancesFromLoadBalancer",
    name: "ValidationError: Instances missing",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];

const IN_PROGRESS = {
  State: "OutOfService",
  ReasonCode: "ELB",
  Description: "Instance registration is still in progress.",
};

export const describeInstanceHealthCases: readonly ConformanceCase[] = [
  {
    action: "DescribeInstanceHealth",
    name: "every registered instance, registration in progress without agents",
    setup: [CREATE, register(A, B)],
    params: { LoadBalancerName: LB },
    expect: {
      revisions: 0,
      ok: (out) => {
        const states = list(out, "InstanceStates");
        assert.deepEqual(
          states.map((s) => str(s, "InstanceId")),
          [A, B],
        );
        for (const s of states) assert.deepEqual(s, { InstanceId: str(s, "InstanceId"), ...IN_PROGRESS });
      },
    },
  },
  {
    action: "DescribeInstanceHealth",
    name: "one instance asked for",
    setup: [CREATE, register(A, B)],
    params: { LoadBalancerName: LB, Instances: instances(B) },
    expect: {
      ok: (out) => assert.deepEqual(list(out, "InstanceStates"), [{ InstanceId: B, ...IN_PROGRESS }]),
    },
  },
  {
    action: "DescribeInstanceHealth",
    name: "a known instance that is not registered",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(B) },
    expect: {
      ok: (out) =>
        assert.deepEqual(list(out, "InstanceStates"), [
          {
            InstanceId: B,
            State: "OutOfService",
            ReasonCode: "N/A",
            Description: "Instance is not currently registered with the LoadBalancer.",
          },
        ]),
    },
  },
  {
    action: "DescribeInstanceHealth",
    name: "no instances registered: an empty list",
    setup: [CREATE],
    params: { LoadBalancerName: LB },
    expect: { ok: (out) => assert.deepEqual(list(out, "InstanceStates"), []) },
  },
  {
    action: "DescribeInstanceHealth",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB },
    expect: fails("LoadBalancerNotFound"),
  },
  {
    action: "DescribeInstanceHealth",
    name: "InvalidInstance: an instance id that resolves to nothing",
    setup: [CREATE, register(A)],
    params: { LoadBalancerName: LB, Instances: instances(UNKNOWN) },
    expect: fails("InvalidInstance"),
    cli: true,
  },
  {
    action: "DescribeInstanceHealth",
    name: "ValidationError: LoadBalancerName missing",
    params: {},
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];
