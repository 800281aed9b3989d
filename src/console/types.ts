/**
 * The admin API's answers, as the console reads them. The shapes the server declares are its
 * own types, imported as types only (nothing of the server reaches the bundle).
 */
export type { GuardHold } from "../model/guard.js";
export type { LoadBalancerSummary } from "../model/load-balancer-view.js";
export type { ChangeTicket as Ticket } from "../model/ticket.js";

export interface ListenerView {
  readonly protocol: string;
  readonly port: number;
  readonly instanceProtocol: string;
  readonly instancePort: number;
  readonly sslCertificateId?: string;
  readonly policies: readonly string[];
}

export interface LoadBalancerDetail {
  readonly loadBalancer: {
    readonly name: string;
    readonly region: string;
    readonly dnsName: string;
    readonly zones: readonly string[];
    readonly subnets?: readonly string[];
    readonly securityGroups?: readonly string[];
    readonly scheme?: string;
    readonly createdAt: string;
    readonly listeners: readonly ListenerView[];
    readonly policies: readonly { name: string; type: string; attributes: Record<string, unknown> }[];
    readonly attributes: Record<string, unknown>;
    readonly healthCheck: {
      readonly target: string;
      readonly interval: number;
      readonly timeout: number;
      readonly healthyThreshold: number;
      readonly unhealthyThreshold: number;
    };
  };
  readonly instances: readonly InstanceHealthView[];
  readonly nodes: readonly {
    readonly zone: string;
    readonly agentId: string;
    readonly address: string;
    readonly listeners: readonly { port: number; protocol: string; bound: boolean }[];
    readonly stale: boolean;
  }[];
}

export interface InstanceHealthView {
  readonly instanceId: string;
  readonly zone: string;
  readonly state: "InService" | "OutOfService" | "Unknown";
  readonly reasonCode: string;
  readonly description: string;
  readonly lastFailure?: { kind: string; detail: string; status?: number; at: string };
}

export interface StatsPoint {
  readonly t: number;
  readonly requestsPerSecond: number;
  readonly latencyP50Seconds: number;
  readonly latencyP99Seconds: number;
  readonly http4xxPerSecond: number;
  readonly http5xxPerSecond: number;
  readonly surgeQueueLength: number;
  readonly activeConnections: number;
}

export interface Stats {
  readonly intervalSeconds: number;
  readonly points: readonly StatsPoint[];
}

export interface AgentView {
  readonly agentId: string;
  readonly zone: string;
  readonly configRevision: number;
  readonly lagRevisions: number;
  readonly fresh: boolean;
  readonly lastReport: string;
  readonly nodes: number;
  readonly unexplained: unknown;
  readonly refused?: unknown;
  readonly placed?: number;
  /** What the agent carries now, summed over its load balancers (absent: not reported). */
  readonly load?: { readonly activeConnections: number; readonly surgeQueueLength: number };
}

export interface RevisionEntry {
  readonly number: number;
  readonly time: string;
  readonly principal: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly action: string;
  readonly ticket?: string;
}
