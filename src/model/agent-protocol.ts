/**
 * What flows between the control plane and an agent. The control plane sends a versioned
 * document; the agent reports what it runs and what it observes. Pure types: both the agent
 * (which must run with no control plane) and the controller import them.
 *
 * Removal is explicit (principle 3): a load balancer, listener or back end leaves an agent only
 * when a document lists it in `removals`, tied to the journal revision that removed it. Something
 * merely absent from `loadBalancers` is kept, served, and reported as unexplained.
 */
import type { DnsRecord } from "./dns-records.js";
import type { NodeSpec } from "./node-spec.js";
import type { NodeSource } from "./resolve-node.js";
import type { TrafficReport } from "./traffic.js";
import type { Protocol } from "./types.js";

export type RemovalKind = "loadBalancer" | "listener" | "backend";

export interface Removal {
  readonly kind: RemovalKind;
  readonly loadBalancer: string;
  /** Listener: the load-balancer port; back end: the instance id; load balancer: its name. */
  readonly key: string;
  /** The journal revision that removed it. */
  readonly revision: number;
  /**
   * The load balancer left this agent for another (failover, scaling down), not the service: it
   * keeps its nodes elsewhere, so the guards do not count it as a removal of a load balancer.
   */
  readonly moved?: true;
}

export interface AgentConfig {
  /** NODE_SPEC_FORMAT: the shape of `loadBalancers`. */
  readonly format: 2;
  /** The journal revision this document was compiled at. Monotonic per control plane store. */
  readonly revision: number;
  readonly zone: string;
  readonly loadBalancers: readonly NodeSpec[];
  readonly removals: readonly Removal[];
  /** Present when an operator released a held change up to this revision (see model/guard.ts). */
  readonly release?: { readonly revision: number };
  /**
   * Present on a delta document: it states only the load balancers whose node spec may have
   * changed since revision `from` (the agent's `have`); every other one the agent runs is simply
   * unchanged. Removals stay explicit, as in a full document. Absent: a full document.
   */
  readonly delta?: AgentConfigDelta;
}

export interface AgentConfigDelta {
  /** The revision the delta applies to: the agent must run exactly this one. */
  readonly from: number;
}

/** The query parameter an agent that understands delta documents adds to its config poll. */
export const DELTA_QUERY = "delta";

/** A document from a control plane of format 1: raw policies and attributes, `version` for the revision. */
export interface AgentConfigV1 {
  readonly format?: 1;
  readonly version: number;
  readonly zone: string;
  readonly loadBalancers: readonly NodeSource[];
  readonly removals: readonly Removal[];
}

/**
 * The control plane's answer to a status report from an agent that asks for it (Accept:
 * application/json): the DNS records of the load balancers the agent serves, with every node
 * that can serve them, so the agent answers DNS queries without the control plane.
 */
export interface StatusAck {
  /**
   * Absent when the agent's `report.dnsTag` names the records it already has: it keeps them.
   * A control plane of the version before partial reports always sends them.
   */
  readonly dns?: readonly DnsRecord[];
  /** Names these records (any string): the agent echoes it in its next report's `dnsTag`. */
  readonly dnsTag?: string;
  /**
   * The report's `seq`, now the base the control plane holds for this agent: the agent may send
   * partial reports against it. Absent (a control plane of an earlier version): full reports only.
   */
  readonly accepted?: number;
  /** The control plane has no base for a partial report (it restarted, or is another replica): send a full one. */
  readonly resend?: "full";
}

/** How a report relates to the ones before it (model/status-delta.ts); absent from agents of an earlier version. */
export interface StatusReportHeader {
  /** The report's number, rising with each report of the agent's run. */
  readonly seq: number;
  /**
   * Present on a partial report: the `seq` of the acknowledged report it applies onto. Its
   * `nodes`, `health` and `traffic` then hold only entries that differ from that report.
   */
  readonly base?: number;
  /** Keys (model/status-delta.ts) of entries the base report had and this one has not (partial reports). */
  readonly gone?: {
    readonly nodes: readonly string[];
    readonly health: readonly string[];
    readonly traffic: readonly string[];
  };
  /** The `dnsTag` of the DNS records the agent holds from the control plane. */
  readonly dnsTag?: string;
}

export type InstanceState = "InService" | "OutOfService" | "Unknown";

/** Why a health check failed, in HAProxy's spirit: the layer that failed and how. */
export type HealthFailureKind = "status" | "refused" | "reset" | "timeout" | "tls" | "dns" | "other";

export interface HealthCheckFailure {
  readonly kind: HealthFailureKind;
  /** Short and stable: `L7STS/404`, `L4CON refused`, `L4TOUT`, `L7TOUT`, `L6 TLS handshake: <msg>`. */
  readonly detail: string;
  /** The HTTP status the back end answered (kind `status`). */
  readonly status?: number;
  /** When the check failed, ISO 8601. */
  readonly at: string;
}

export interface InstanceHealthReport {
  readonly loadBalancer: string;
  readonly instanceId: string;
  readonly state: InstanceState;
  readonly reasonCode: "ELB" | "Instance" | "N/A";
  readonly description: string;
  /**
   * The instance was deregistered and the node is draining its connections (ConnectionDraining):
   * reported InService with "Instance deregistration currently in progress" until drained or timed out.
   */
  readonly draining?: boolean;
  /**
   * The last failed check of this back end on this node, whatever its state now. Optional: agents
   * of an earlier version do not send it. Operators' eyes only: never part of the ELB API.
   */
  readonly lastFailure?: HealthCheckFailure;
}

export interface NodeReport {
  readonly loadBalancer: string;
  readonly address: string;
  /**
   * InService back ends this node routes new requests to: every zone's with cross-zone load
   * balancing on, its own zone's with it off. DNS leaves out a node with none (absent: count it in).
   */
  readonly routableInService?: number;
  /** Client connections open on the node now (scaling reads it). */
  readonly connections?: number;
  /** Requests the node received since the agent started (scaling reads its rate). */
  readonly requestCount?: number;
  readonly listeners: readonly {
    readonly port: number;
    readonly protocol: Protocol;
    readonly bound: boolean;
  }[];
}

export interface AgentStatus {
  readonly agentId: string;
  readonly zone: string;
  /** The journal revision of the configuration the agent is running (last accepted). */
  readonly configRevision: number;
  readonly nodes: readonly NodeReport[];
  readonly health: readonly InstanceHealthReport[];
  /** Load balancers the agent still runs although the latest document neither lists nor removes them. */
  readonly unexplained: readonly string[];
  /** The last document the agent refused (its own guard), while it is still the newest it was offered. */
  readonly refused?: { readonly revision: number; readonly reason: string };
  /** Per-load-balancer traffic figures (model/traffic.ts); absent from agents of an earlier version. */
  readonly traffic?: readonly TrafficReport[];
  readonly time: string;
  /** Sequence and base of the report (never stored: the stored status is always whole). */
  readonly report?: StatusReportHeader;
}
