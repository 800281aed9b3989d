/**
 * The blast-radius guard (principle 4): before a configuration document reaches agents, measure
 * what it takes away, and hold it when that is more than an operator's everyday change. Pure:
 * the controller feeds it the document, who made each removal, and what the agents observe.
 *
 * The 2012 outage was a control plane acting on incomplete state: a mass removal, or one load
 * balancer losing its back ends to something other than a call that named it, is held until a
 * second look releases it. Small explicit deletes by an operator pass untouched.
 */
import type { AgentConfig, Removal } from "./agent-protocol.js";
import type { ReadOnlyIncident } from "./read-only.js";

export interface GuardThresholds {
  /** Hold when a document removes more than this many load balancers… */
  readonly maxLoadBalancers: number;
  /** …or more than this share of the zone's load balancers (0.10 = 10 %)… */
  readonly maxLoadBalancerShare: number;
  /** …provided it removes at least this many (so deleting one of three passes). */
  readonly minLoadBalancersForShare: number;
  /** Hold when one load balancer loses more than this share of its back ends other than by a call naming it. */
  readonly maxBackendShare: number;
}

export const DEFAULT_GUARD_THRESHOLDS: GuardThresholds = {
  maxLoadBalancers: 25,
  maxLoadBalancerShare: 0.1,
  minLoadBalancersForShare: 2,
  maxBackendShare: 0.5,
};

/**
 * The ELB API actions that name the one load balancer they change: a removal made by one of them
 * is explicit. Restores, imports, repairs and any other maintenance path are not.
 */
export const NAMING_ACTIONS: ReadonlySet<string> = new Set([
  "DeleteLoadBalancer",
  "DeleteLoadBalancerListeners",
  "DeregisterInstancesFromLoadBalancer",
  "DisableAvailabilityZonesForLoadBalancer",
  "DetachLoadBalancerFromSubnets",
]);

export interface GuardInput {
  readonly doc: AgentConfig;
  /** The action of the revision each removal comes from. */
  readonly actionOf: (revision: number) => string | undefined;
  /** Back ends the zone's agents see InService now, by load balancer. */
  readonly inService: ReadonlyMap<string, ReadonlySet<string>>;
  /** The stored state fails verification: nothing that removes anything goes out. */
  readonly stateUnverified: boolean;
  readonly thresholds: GuardThresholds;
  /**
   * How many load balancers the zone states after the document, when the document does not list
   * them all (a delta states only what changed). Absent: the document's own count.
   */
  readonly statedLoadBalancers?: number;
}

/** What a document takes away, and whether it is held. */
export interface GuardVerdict {
  readonly held: boolean;
  /** Why it is held, one sentence each; empty when it is not. */
  readonly reasons: readonly string[];
  readonly removedLoadBalancers: number;
  readonly removedListeners: number;
  readonly removedBackends: number;
  /** Load balancers in the zone before the document (those it states plus those it removes). */
  readonly loadBalancersBefore: number;
}

export function measureChange(input: GuardInput): GuardVerdict {
  const { doc, thresholds: t } = input;
  const byKind = (k: Removal["kind"]) => doc.removals.filter((r) => r.kind === k);
  const lbRemovals = byKind("loadBalancer").filter((r) => r.moved !== true);
  const backendRemovals = byKind("backend");
  const removedLoadBalancers = new Set(lbRemovals.map((r) => r.loadBalancer)).size;
  const loadBalancersBefore = (input.statedLoadBalancers ?? doc.loadBalancers.length) + removedLoadBalancers;
  const reasons: string[] = [];

  if (removedLoadBalancers > t.maxLoadBalancers) {
    reasons.push(`removes ${removedLoadBalancers} load balancers (more than ${t.maxLoadBalancers} at once)`);
  } else if (
    removedLoadBalancers >= t.minLoadBalancersForShare &&
    removedLoadBalancers > t.maxLoadBalancerShare * loadBalancersBefore
  ) {
    reasons.push(
      `removes ${removedLoadBalancers} of ${loadBalancersBefore} load balancers (more than ${Math.round(t.maxLoadBalancerShare * 100)} %)`,
    );
  }

  const stated = new Map(doc.loadBalancers.map((lb) => [lb.name, lb]));
  const implicit = new Map<string, Removal[]>();
  for (const r of backendRemovals) {
    if (NAMING_ACTIONS.has(input.actionOf(r.revision) ?? "")) continue;
    const list = implicit.get(r.loadBalancer) ?? [];
    list.push(r);
    implicit.set(r.loadBalancer, list);
  }
  for (const [name, removed] of implicit) {
    const left = stated.get(name)?.backends ?? [];
    const before = left.length + removed.length;
    if (removed.length > t.maxBackendShare * before) {
      reasons.push(
        `${name} loses ${removed.length} of ${before} back ends (more than ${Math.round(t.maxBackendShare * 100)} %) to a change that does not name it`,
      );
      continue;
    }
    const serving = input.inService.get(name);
    if (serving !== undefined && serving.size > 0 && left.every((b) => !serving.has(b.instanceId))) {
      reasons.push(`${name} loses its last InService back end to a change that does not name it`);
    }
  }

  if (input.stateUnverified && doc.removals.length > 0) {
    reasons.push("the stored state fails verification: no removal goes out until it passes or is released");
  }

  return {
    held: reasons.length > 0,
    reasons,
    removedLoadBalancers,
    removedListeners: byKind("listener").length,
    removedBackends: backendRemovals.length,
    loadBalancersBefore,
  };
}

/**
 * The agent's own, smaller guard: a single document may not remove most of what the agent
 * serves (more than half of its load balancers, when that is more than one) unless it carries a
 * release for its revision. Returns the reason to refuse, or null.
 */
export function agentRefusal(runningLoadBalancers: number, doc: AgentConfig): string | null {
  if (doc.release !== undefined && doc.release.revision >= doc.revision) return null;
  const removed = new Set(
    doc.removals.filter((r) => r.kind === "loadBalancer" && r.moved !== true).map((r) => r.loadBalancer),
  ).size;
  if (removed > 1 && removed * 2 > runningLoadBalancers) {
    return `the document removes ${removed} of the ${runningLoadBalancers} load balancers this agent serves without a release`;
  }
  return null;
}

/** A change the controller holds back from one zone's agents. */
export interface GuardHold {
  readonly zone: string;
  /** The revision the zone's agents run. */
  readonly fromRevision: number;
  /** The revision of the held document. */
  readonly toRevision: number;
  readonly since: string;
  readonly verdict: GuardVerdict;
}

export interface StateAlarm {
  readonly kind: "journal-damaged" | "agents-ahead-of-journal" | "agents-serve-unknown";
  readonly message: string;
}

/** The last check of the stored state (see controller/state-monitor.ts). */
export interface StateCheck {
  /** The state passed every check (after any automatic repair). */
  readonly verified: boolean;
  readonly checkedAt: string;
  readonly head: number;
  readonly alarms: readonly StateAlarm[];
  /** Automatic repairs of the current state since the controller started. */
  readonly repairs: number;
}

/**
 * An operator's decision on a held change, kept by the store so that a restarted control plane,
 * or another replica, honours it: removals of `zone` up to `throughRevision` are released (go
 * out) or discarded (never reach the agents).
 */
export interface GuardDecision {
  readonly time: string;
  readonly zone: string;
  readonly decision: "released" | "discarded";
  readonly throughRevision: number;
  readonly principal: string;
  /** The change ticket the decision was made under. */
  readonly ticket?: string;
  /** The break-glass reason, when it was made without a ticket. */
  readonly breakGlass?: string;
}

/** Who decides on a hold, and under which ticket or break-glass reason. */
export interface DecisionAuthority {
  readonly principal: string;
  readonly ticket?: string;
  readonly breakGlass?: string;
}

/** A break-glass call: an alarm until it is `BREAK_GLASS_ALARM_HOURS` old. */
export interface BreakGlassAlarm {
  readonly time: string;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly reason: string;
  readonly requestId: string;
}

/** How long a break-glass call stays an alarm (GET /admin/v1/alarms, `ballast alarms`). */
export const BREAK_GLASS_ALARM_HOURS = 24;

/**
 * What operators see of and decide about the controller's safety workflows, through the admin
 * API. The controller implements it and the composition root hands it to the API, which never
 * imports the controller.
 */
export interface SafetyControl {
  holds(): readonly GuardHold[];
  /** Lets the zone's held change go out (the decision is stored); undefined when nothing is held there. */
  release(zone: string, by: DecisionAuthority): Promise<GuardHold | undefined>;
  /** Drops the held change's removals for good (stored); undefined when nothing is held there. */
  discard(zone: string, by: DecisionAuthority): Promise<GuardHold | undefined>;
  /** The last check of the stored state; undefined before the first. */
  stateCheck(): StateCheck | undefined;
  /** Read-only mode (model/read-only.ts): why changes are refused, or undefined. */
  readOnly?(): ReadOnlyIncident | undefined;
  /** The fleet workflow's alarms: failover suspended by its breaker, scaling refused on unverified state. */
  fleetAlarms?(): readonly FleetAlarm[];
}

export interface FleetAlarm {
  readonly kind: "failover-suspended" | "scaling-refused";
  readonly message: string;
  readonly since: string;
}
