/** Building blocks for the rows: the standard load balancer, setup steps, expectations. */
import type { Json } from "../support/json.js";
import { type Expect, LB, type Params, type Step } from "../support/table.js";

export { LB };

export const HTTP_LISTENER = {
  Protocol: "HTTP",
  LoadBalancerPort: 80,
  InstanceProtocol: "HTTP",
  InstancePort: 8080,
};
export const HEALTH_CHECK = {
  Target: "HTTP:8080/health",
  Interval: 30,
  Timeout: 5,
  UnhealthyThreshold: 2,
  HealthyThreshold: 10,
};

/** CreateLoadBalancer input for the standard load balancer, with overrides. */
export function createInput(overrides: Params = {}): Params {
  return {
    LoadBalancerName: LB,
    Listeners: [HTTP_LISTENER],
    AvailabilityZones: ["us-east-1a"],
    ...overrides,
  };
}

export function create(overrides: Params = {}): Step {
  return { action: "CreateLoadBalancer", params: createInput(overrides) };
}

export const CREATE: Step = create();

export function instances(...ids: readonly string[]): Json {
  return ids.map((InstanceId) => ({ InstanceId }));
}

export function register(...ids: readonly string[]): Step {
  return {
    action: "RegisterInstancesWithLoadBalancer",
    params: { LoadBalancerName: LB, Instances: instances(...ids) },
  };
}

export function fails(error: string, status = 400): Expect {
  return { error, status };
}
