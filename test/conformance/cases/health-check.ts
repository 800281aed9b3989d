/** ConfigureHealthCheck. */
import assert from "node:assert/strict";
import { at } from "../support/json.js";
import type { ConformanceCase } from "../support/table.js";
import { CREATE, fails, HEALTH_CHECK, LB } from "./common.js";

function configure(overrides: Record<string, string | number>, name?: string): ConformanceCase {
  return {
    action: "ConfigureHealthCheck",
    name: name ?? `ValidationError: ${JSON.stringify(overrides)}`,
    setup: [CREATE],
    params: { LoadBalancerName: LB, HealthCheck: { ...HEALTH_CHECK, ...overrides } },
    expect: fails("ValidationError"),
  };
}

export const healthCheckCases: readonly ConformanceCase[] = [
  {
    action: "ConfigureHealthCheck",
    name: "an HTTP check: echoed and described",
    setup: [CREATE],
    params: { LoadBalancerName: LB, HealthCheck: HEALTH_CHECK },
    expect: {
      revisions: 1,
      ok: async (out, { lb, call }) => {
        assert.deepEqual(at(out, "HealthCheck"), HEALTH_CHECK);
        const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
        assert.deepEqual(
          at(d.kind === "ok" ? d.output : null, "LoadBalancerDescriptions", 0, "HealthCheck"),
          HEALTH_CHECK,
        );
      },
    },
  },
  {
    action: "ConfigureHealthCheck",
    name: "the bounds of every range are accepted, the target normalised",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      HealthCheck: {
        Target: "tcp:1",
        Interval: 300,
        Timeout: 60,
        UnhealthyThreshold: 10,
        HealthyThreshold: 2,
      },
    },
    expect: {
      ok: (out) =>
        assert.deepEqual(at(out, "HealthCheck"), {
          Target: "TCP:1",
          Interval: 300,
          Timeout: 60,
          UnhealthyThreshold: 10,
          HealthyThreshold: 2,
        }),
    },
  },
  {
    action: "ConfigureHealthCheck",
    name: "LoadBalancerNotFound",
    params: { LoadBalancerName: LB, HealthCheck: HEALTH_CHECK },
    expect: fails("LoadBalancerNotFound"),
    cli: true,
  },
  { ...configure({ Interval: 301 }), cli: true },
  { ...configure({ Interval: 4 }), clientMayReject: true },
  configure({ Timeout: 61, Interval: 300 }),
  { ...configure({ Timeout: 1 }), clientMayReject: true },
  configure({ Timeout: 30, Interval: 30 }, "ValidationError: Timeout not below Interval"),
  configure({ HealthyThreshold: 11 }),
  { ...configure({ HealthyThreshold: 1 }), clientMayReject: true },
  configure({ UnhealthyThreshold: 11 }),
  { ...configure({ UnhealthyThreshold: 1 }), clientMayReject: true },
  configure({ Target: "FTP:21" }),
  configure({ Target: "HTTP:8080" }, "ValidationError: an HTTP target without a path"),
  configure({ Target: "TCP:8080/path" }, "ValidationError: a TCP target with a path"),
  configure({ Target: "TCP:70000" }),
  configure({ Target: "" }),
  configure({ Target: `HTTP:80/${"p".repeat(1100)}` }, "ValidationError: a target over 1024 characters"),
  {
    ...configure({ Interval: "0x1E" }, "ValidationError: Interval written in hex is not an integer"),
    clientMayReject: true,
  },
  {
    ...configure({ Interval: "3e1" }, "ValidationError: Interval in exponent notation is not an integer"),
    clientMayReject: true,
  },
  {
    action: "ConfigureHealthCheck",
    name: "ValidationError: HealthCheck missing",
    setup: [CREATE],
    params: { LoadBalancerName: LB },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
  {
    action: "ConfigureHealthCheck",
    name: "ValidationError: HealthCheck.Target missing",
    setup: [CREATE],
    params: {
      LoadBalancerName: LB,
      HealthCheck: { Interval: 30, Timeout: 5, UnhealthyThreshold: 2, HealthyThreshold: 10 },
    },
    expect: fails("ValidationError"),
    clientMayReject: true,
  },
];
