/** The load balancers the benchmarks build by the thousand: one HTTP listener, two zones. */
import type { LoadBalancer, Tag } from "../src/model/types.js";

export function benchLoadBalancer(
  i: number,
  instances: readonly string[],
  tags: readonly Tag[] = [],
): LoadBalancer {
  const name = `lb-${i}`;
  return {
    name,
    id: String(1_000_000_000 + i),
    dnsName: `${name}-${1_000_000_000 + i}.us-east-1.elb.ballast.internal`,
    createdTime: "2026-11-23T00:00:00.000Z",
    scheme: "internet-facing",
    listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 }],
    availabilityZones: ["us-east-1a", "us-east-1b"],
    subnets: [],
    securityGroups: [],
    healthCheck: {
      target: "HTTP:8080/health",
      interval: 30,
      timeout: 5,
      unhealthyThreshold: 2,
      healthyThreshold: 10,
    },
    instances,
    tags,
  };
}
