/**
 * EnableAvailabilityZonesForLoadBalancer, DisableAvailabilityZonesForLoadBalancer,
 * AttachLoadBalancerToSubnets, DetachLoadBalancerFromSubnets, ApplySecurityGroupsToLoadBalancer.
 * Zones are the zones Ballast has agents in; subnets come from the subnet registry; a load
 * balancer is either in zones (no subnets) or in a VPC (subnets, whose zones it then serves).
 */
import { BallastError } from "../../../model/errors.js";
import type { LoadBalancerSpec } from "../../../model/load-balancer.js";
import type { LoadBalancer, Subnet } from "../../../model/types.js";
import { requireMembers } from "../../../model/validate.js";
import { subnetPlacement, validateSecurityGroups } from "../../../model/vpc.js";
import type { MutationTx } from "../../../store/store.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import type { XmlValue } from "../xml.js";

function notFound(name: string): BallastError {
  return new BallastError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${name}'`);
}

function invalid(message: string): BallastError {
  return new BallastError("InvalidConfigurationRequest", message);
}

/** Every id through the registry; any unknown one is SubnetNotFound for the whole call. */
export async function resolveSubnets(tx: MutationTx, ids: readonly string[]): Promise<Subnet[]> {
  const found: Subnet[] = [];
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    const subnet = await tx.get("subnet", id);
    if (subnet) found.push(subnet);
    else missing.push(id);
  }
  if (missing.length > 0)
    throw new BallastError("SubnetNotFound", `One or more subnets could not be found: ${missing.join(", ")}`);
  return found;
}

/** Zones of the deployment only: what CreateLoadBalancer answers for any other zone. */
export function assertKnownZones(zones: readonly string[], known: readonly string[]): void {
  for (const zone of zones)
    if (!known.includes(zone))
      throw invalid(`Classic Load Balancers do not support Availability Zone '${zone}'.`);
}

function readRequest(ctx: ActionContext, list: string): { name: string; values: string[] } {
  const name = ctx.params.string("LoadBalancerName");
  const values = ctx.params.strings(list);
  requireMembers({ loadBalancerName: name, [list.slice(0, 1).toLowerCase() + list.slice(1)]: values });
  return { name: name ?? "", values: values ?? [] };
}

/** Runs `change` on the named load balancer in one mutation; an unchanged result appends nothing. */
async function update(
  ctx: ActionContext,
  name: string,
  change: (lb: LoadBalancer, tx: MutationTx) => Promise<LoadBalancer> | LoadBalancer,
): Promise<LoadBalancer> {
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await tx.get("loadBalancer", name);
    if (!lb) throw notFound(name);
    const next = await change(lb, tx);
    if (JSON.stringify(next) !== JSON.stringify(lb)) tx.put("loadBalancer", name, next);
    return next;
  });
  return result;
}

/** A load balancer in a VPC changes zones through its subnets (API docs: "use AttachLoadBalancerToSubnets"). */
function assertNotInVpc(lb: LoadBalancer, use: string): void {
  if (lb.subnets.length > 0)
    throw invalid(
      `Load balancer ${lb.name} is in VPC ${lb.vpcId ?? ""}: change its Availability Zones with ${use}.`,
    );
}

async function enableZones(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "AvailabilityZones");
  assertKnownZones(values, ctx.settings.zones);
  const lb = await update(ctx, name, (lb) => {
    assertNotInVpc(lb, "AttachLoadBalancerToSubnets");
    const zones = [...lb.availabilityZones];
    for (const z of values) if (!zones.includes(z)) zones.push(z);
    return { ...lb, availabilityZones: zones };
  });
  return { AvailabilityZones: [...lb.availabilityZones] };
}

/** Zones not enabled are ignored; removing every zone is refused ("at least one … at all times"). */
async function disableZones(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "AvailabilityZones");
  assertKnownZones(values, ctx.settings.zones);
  const lb = await update(ctx, name, (lb) => {
    assertNotInVpc(lb, "DetachLoadBalancerFromSubnets");
    const zones = lb.availabilityZones.filter((z) => !values.includes(z));
    if (zones.length === 0)
      throw invalid("Cannot remove all Availability Zones: a load balancer must have at least one.");
    return { ...lb, availabilityZones: zones };
  });
  return { AvailabilityZones: [...lb.availabilityZones] };
}

/** Subnets already attached are kept; the load balancer serves each new subnet's zone. */
async function attachSubnets(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "Subnets");
  const lb = await update(ctx, name, async (lb, tx) => {
    if (lb.subnets.length === 0)
      throw invalid(`Load balancer ${lb.name} is not in a VPC: it cannot be attached to subnets.`);
    const subnets = await resolveSubnets(tx, [...lb.subnets, ...values]);
    const placement = subnetPlacement(subnets);
    if (placement.vpcId !== lb.vpcId)
      throw invalid(`Subnets must be in the load balancer's VPC ${lb.vpcId ?? ""}, not ${placement.vpcId}.`);
    return { ...lb, subnets: placement.subnets, availabilityZones: placement.availabilityZones };
  });
  return { Subnets: [...lb.subnets] };
}

/** Subnets not attached are ignored; detaching the last one is refused. */
async function detachSubnets(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "Subnets");
  const lb = await update(ctx, name, async (lb, tx) => {
    if (lb.subnets.length === 0)
      throw invalid(`Load balancer ${lb.name} is not in a VPC: it has no subnets.`);
    const remaining = lb.subnets.filter((s) => !values.includes(s));
    if (remaining.length === 0)
      throw invalid("Cannot detach every subnet: a load balancer in a VPC needs at least one subnet.");
    if (remaining.length === lb.subnets.length) return lb;
    const placement = subnetPlacement(await resolveSubnets(tx, remaining));
    return { ...lb, subnets: placement.subnets, availabilityZones: placement.availabilityZones };
  });
  return { Subnets: [...lb.subnets] };
}

/**
 * Security groups replace the previous ones. They apply only to a load balancer in a VPC, as ELB
 * answers ("Security groups can be applied to only ELBs in VPC.", InvalidConfigurationRequest).
 */
async function applySecurityGroups(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "SecurityGroups");
  const groups = validateSecurityGroups(values);
  const lb = await update(ctx, name, (lb) => {
    if (lb.subnets.length === 0) throw invalid("Security groups can be applied to only ELBs in VPC.");
    return { ...lb, securityGroups: groups };
  });
  return { SecurityGroups: [...lb.securityGroups] };
}

export const zoneActions: Readonly<Record<string, ActionDefinition>> = {
  EnableAvailabilityZonesForLoadBalancer: { mutates: true, run: enableZones },
  DisableAvailabilityZonesForLoadBalancer: { mutates: true, run: disableZones },
  AttachLoadBalancerToSubnets: { mutates: true, run: attachSubnets },
  DetachLoadBalancerFromSubnets: { mutates: true, run: detachSubnets },
  ApplySecurityGroupsToLoadBalancer: { mutates: true, run: applySecurityGroups },
};

/** CreateLoadBalancer with Subnets: the zones are the subnets' zones, the VPC is theirs. */
export async function placeInSubnets(tx: MutationTx, spec: LoadBalancerSpec): Promise<LoadBalancerSpec> {
  if (spec.subnets.length === 0) return spec;
  const placement = subnetPlacement(await resolveSubnets(tx, spec.subnets));
  return { ...spec, ...placement };
}
