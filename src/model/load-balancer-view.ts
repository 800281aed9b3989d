/**
 * The operator's view of a load balancer, as the admin API answers it (GET
 * /admin/v1/load-balancers…) and the CLI and the console read it. Pure types.
 */
import type { HealthCheckFailure, InstanceState } from "./agent-protocol.js";
import type { TrafficPoint } from "./traffic.js";
import type { AccessLogAttribute, Protocol, Scheme } from "./types.js";

export interface LoadBalancerSummary {
  readonly name: string;
  readonly region: string;
  readonly dnsName: string;
  readonly zones: readonly string[];
  readonly listeners: number;
  readonly instances: { readonly inService: number; readonly outOfService: number; readonly unknown: number };
  readonly createdAt: string;
}

export interface LoadBalancerDetail {
  readonly name: string;
  readonly region: string;
  readonly dnsName: string;
  readonly zones: readonly string[];
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  readonly scheme: Scheme;
  readonly createdAt: string;
  readonly listeners: readonly {
    readonly protocol: Protocol;
    readonly port: number;
    readonly instanceProtocol: Protocol;
    readonly instancePort: number;
    readonly sslCertificateId?: string;
    readonly policies: readonly string[];
  }[];
  readonly policies: readonly {
    readonly name: string;
    readonly type: string;
    readonly attributes: Readonly<Record<string, string>>;
  }[];
  readonly attributes: {
    readonly crossZone: boolean;
    readonly idleTimeout: number;
    readonly connectionDraining: { readonly enabled: boolean; readonly timeout: number };
    readonly accessLog: AccessLogAttribute;
  };
  readonly healthCheck: {
    readonly target: string;
    readonly interval: number;
    readonly timeout: number;
    readonly healthyThreshold: number;
    readonly unhealthyThreshold: number;
  };
}

/** A registered instance: DescribeInstanceHealth's state and words, and the last failed check. */
export interface InstanceView {
  readonly instanceId: string;
  /** The zone it is in ("" for an instance id neither in the inventory nor an address). */
  readonly zone: string;
  readonly state: InstanceState;
  readonly reasonCode: "ELB" | "Instance" | "N/A";
  readonly description: string;
  readonly lastFailure?: HealthCheckFailure;
}

/** A node of the load balancer on one agent, from that agent's last report. */
export interface NodeView {
  readonly zone: string;
  readonly agentId: string;
  readonly address: string;
  readonly listeners: readonly {
    readonly port: number;
    readonly protocol: Protocol;
    readonly bound: boolean;
  }[];
  /** The agent has not reported for 30 seconds. */
  readonly stale: boolean;
}

/** (Type aliases, not interfaces: the admin API answers them as plain JSON records.) */
export type LoadBalancerList = {
  readonly loadBalancers: readonly LoadBalancerSummary[];
};

export type LoadBalancerShow = {
  readonly loadBalancer: LoadBalancerDetail;
  readonly instances: readonly InstanceView[];
  readonly nodes: readonly NodeView[];
};

export type LoadBalancerStats = {
  readonly intervalSeconds: number;
  /** Oldest first; empty until an agent reported. */
  readonly points: readonly TrafficPoint[];
};
