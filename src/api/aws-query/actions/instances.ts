/** RegisterInstancesWithLoadBalancer, DeregisterInstancesFromLoadBalancer, DescribeInstanceHealth. */
import { BallastError } from "../../../model/errors.js";
import { backendOf } from "../../../model/instances.js";
import { withInstancesDeregistered, withInstancesRegistered } from "../../../model/load-balancer.js";
import { regionServedBy } from "../../../model/region.js";
import type { Instance } from "../../../model/types.js";
import { requireMembers } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { instancesXml } from "../describe.js";
import { putLoadBalancer, requireLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import type { XmlValue } from "../xml.js";
import { aggregateHealth, describedIds, drainingInstances } from "./instance-health.js";
import { assertInstanceLimit, limitIn } from "./limits.js";

/** Wording of AWS's InvalidInstance answer (boto/boto#2274). */
function invalidInstance(id: string): BallastError {
  return new BallastError("InvalidInstance", `Could not find EC2 instance ${id}.`);
}

function readRequest(
  ctx: ActionContext,
  instancesRequired: boolean,
): { name: string; ids: string[] | undefined } {
  const name = ctx.params.string("LoadBalancerName");
  const instances = ctx.params.structs("Instances");
  requireMembers(instancesRequired ? { loadBalancerName: name, instances } : { loadBalancerName: name });
  const ids = instances?.map((p, i) => {
    const id = p.string("InstanceId");
    requireMembers({ [`instances.${i + 1}.member.instanceId`]: id });
    return id ?? "";
  });
  return { name: name ?? "", ids };
}

async function registerInstances(ctx: ActionContext): Promise<XmlValue> {
  const { name, ids = [] } = readRequest(ctx, true);
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name);
    for (const id of ids) if (!backendOf(id, await tx.get("instance", id), lb)) throw invalidInstance(id);
    const next = withInstancesRegistered(lb, ids);
    const max = await limitIn(ctx, tx, "classic-registered-instances");
    if (next !== lb) assertInstanceLimit(next.instances.length, max);
    if (next !== lb) putLoadBalancer(tx, next);
    return next.instances;
  });
  return { Instances: instancesXml(result) };
}

/**
 * Deregistering an instance that is not registered is InvalidInstance for the whole call, with
 * nothing removed — what AWS answers (boto/boto#2274), though the docs once said "no effect".
 */
async function deregisterInstances(ctx: ActionContext): Promise<XmlValue> {
  const { name, ids = [] } = readRequest(ctx, true);
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name);
    for (const id of ids) if (!lb.instances.includes(id)) throw invalidInstance(id);
    const next = withInstancesDeregistered(lb, ids);
    if (next !== lb) putLoadBalancer(tx, next);
    return next.instances;
  });
  return { Instances: instancesXml(result) };
}

/**
 * Requested instances are described even when not registered (the API docs: "their state is
 * returned even if they are no longer registered"); only ids that resolve to no instance at all
 * are InvalidInstance. Instances still draining after deregistration are described too.
 */
async function describeInstanceHealth(ctx: ActionContext): Promise<XmlValue> {
  const { name, ids } = readRequest(ctx, false);
  const lb = await requireLoadBalancer(ctx, name);
  // Names are per region: only the agents of the region's zones report on this load balancer.
  const statuses = (await ctx.store.agentStatuses()).filter((s) => regionServedBy(s.zone) === ctx.region);
  const now = ctx.settings.now();
  const draining = drainingInstances(lb, statuses, now);
  const wanted = describedIds(lb, ids, draining);
  const instances = new Map<string, Instance | undefined>();
  for (const id of wanted) {
    const instance = backendOf(id, (await ctx.store.get("instance", id))?.doc, lb);
    if (!instance && !lb.instances.includes(id) && !draining.includes(id)) throw invalidInstance(id);
    instances.set(id, instance);
  }
  return {
    InstanceStates: wanted.map((id) => {
      const h = aggregateHealth(lb, instances.get(id), id, statuses, now);
      return {
        InstanceId: h.instanceId,
        State: h.state,
        ReasonCode: h.reasonCode,
        Description: h.description,
      };
    }),
  };
}

export const instanceActions: Readonly<Record<string, ActionDefinition>> = {
  RegisterInstancesWithLoadBalancer: { mutates: true, run: registerInstances },
  DeregisterInstancesFromLoadBalancer: { mutates: true, run: deregisterInstances },
  DescribeInstanceHealth: { mutates: false, run: describeInstanceHealth },
};
