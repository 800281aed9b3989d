/**
 * DescribeInstanceHealth's answer from the agents' fresh reports: the health of each registered
 * instance, and the instances still draining after their deregistration (ConnectionDraining).
 */
import type { AgentStatus, InstanceHealthReport } from "../../../model/agent-protocol.js";
import type { Instance, LoadBalancer } from "../../../model/types.js";

/** Agent reports older than this are not evidence of anything: the agent may be gone. */
export const STATUS_MAX_AGE_MS = 30_000;

/** ELB's description of a deregistered instance whose connections are draining. */
export const DEREGISTRATION_IN_PROGRESS = "Instance deregistration currently in progress";

export interface InstanceHealth {
  readonly instanceId: string;
  readonly state: "InService" | "OutOfService" | "Unknown";
  readonly reasonCode: "ELB" | "Instance" | "N/A";
  readonly description: string;
}

function isFresh(status: AgentStatus, now: Date): boolean {
  const age = now.getTime() - Date.parse(status.time);
  return age <= STATUS_MAX_AGE_MS;
}

/** Fresh reports about the load balancer's instance, draining ones apart. */
function reportsFor(
  lb: string,
  instanceId: string,
  statuses: readonly AgentStatus[],
  now: Date,
): { current: InstanceHealthReport[]; draining: boolean } {
  const current: InstanceHealthReport[] = [];
  let draining = false;
  for (const s of statuses) {
    if (!isFresh(s, now)) continue;
    for (const h of s.health) {
      if (h.loadBalancer !== lb || h.instanceId !== instanceId) continue;
      if (h.draining) draining = true;
      else current.push(h);
    }
  }
  return { current, draining };
}

/**
 * Instances of the load balancer that some fresh agent report says are draining and that are
 * no longer registered, sorted. (A report of draining for an instance registered again describes
 * the earlier registration and is ignored.)
 */
export function drainingInstances(lb: LoadBalancer, statuses: readonly AgentStatus[], now: Date): string[] {
  const out = new Set<string>();
  for (const s of statuses) {
    if (!isFresh(s, now)) continue;
    for (const h of s.health)
      if (h.loadBalancer === lb.name && h.draining && !lb.instances.includes(h.instanceId))
        out.add(h.instanceId);
  }
  return [...out].sort();
}

/**
 * The ids DescribeInstanceHealth describes: those asked for (deduplicated), or else every
 * registered instance followed by those still draining.
 */
export function describedIds(
  lb: LoadBalancer,
  requested: readonly string[] | undefined,
  draining: readonly string[],
): string[] {
  if (requested && requested.length > 0) return [...new Set(requested)];
  return [...lb.instances, ...draining];
}

/**
 * One instance's health from every fresh agent report: OutOfService if any agent sees it so (its
 * reason wins), InService if at least one agent sees it in service and none out of it, Unknown if
 * agents only report Unknown, and "registration still in progress" while no agent has reported.
 * An instance no longer registered is InService "deregistration in progress" while an agent
 * drains it, and "not currently registered" otherwise.
 */
export function aggregateHealth(
  lb: LoadBalancer,
  instance: Instance | undefined,
  instanceId: string,
  statuses: readonly AgentStatus[],
  now: Date,
): InstanceHealth {
  const { current, draining } = reportsFor(lb.name, instanceId, statuses, now);
  if (!lb.instances.includes(instanceId)) {
    if (draining)
      return { instanceId, state: "InService", reasonCode: "N/A", description: DEREGISTRATION_IN_PROGRESS };
    return {
      instanceId,
      state: "OutOfService",
      reasonCode: "N/A",
      description: "Instance is not currently registered with the LoadBalancer.",
    };
  }
  if (instance && !lb.availabilityZones.includes(instance.zone))
    return {
      instanceId,
      state: "OutOfService",
      reasonCode: "ELB",
      description:
        "Instance is in the EC2 Availability Zone for which LoadBalancer is not configured to route traffic to.",
    };
  const out = current.find((r) => r.state === "OutOfService");
  if (out)
    return { instanceId, state: "OutOfService", reasonCode: out.reasonCode, description: out.description };
  if (current.some((r) => r.state === "InService"))
    return { instanceId, state: "InService", reasonCode: "N/A", description: "N/A" };
  const unknown = current[0];
  if (unknown)
    return { instanceId, state: "Unknown", reasonCode: unknown.reasonCode, description: unknown.description };
  return {
    instanceId,
    state: "OutOfService",
    reasonCode: "ELB",
    description: "Instance registration is still in progress.",
  };
}
