/**
 * EnableAvailabilityZonesForLoadBalancer, DisableAvailabilityZonesForLoadBalancer,
 * AttachLoadBalancerToSubnets, DetachLoadBalancerFromSubnets, ApplySecurityGroupsToLoadBalancer.
 *
 * Every load balancer is in a VPC (region-vpc.ts). Zones are the request region's; a load
 * balancer in the region's default VPC changes zones with the default subnet of each, so its
 * subnets and zones stay in step; one in another VPC changes zones through its subnets only.
 */
import { BallastError } from "../../../model/errors.js";
import { isZoneOf } from "../../../model/region.js";
import type { LoadBalancer, Subnet } from "../../../model/types.js";
import { requireMembers } from "../../../model/validate.js";
import { subnetPlacement, validateSecurityGroups } from "../../../model/vpc.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { putLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import { RegionVpc, txSubnets } from "../region-vpc.js";
import type { XmlValue } from "../xml.js";

function invalid(message: string): BallastError {
  return new BallastError("InvalidConfigurationRequest", message);
}

/**
 * Zones of the request's region only (any letter: a zone needs no agent). Another region's zone,
 * or a name that is no zone, is what AWS answers for a zone it cannot place a Classic load
 * balancer in (InvalidConfigurationRequest, gruntwork-io/terragrunt-infrastructure-live-example#10).
 */
export function assertZonesOfRegion(zones: readonly string[], region: string): void {
  for (const zone of zones)
    if (!isZoneOf(zone, region))
      throw invalid(`Classic Load Balancers do not support Availability Zone '${zone}'.`);
}

function readRequest(ctx: ActionContext, list: string): { name: string; values: string[] } {
  const name = ctx.params.string("LoadBalancerName");
  const values = ctx.params.strings(list);
  requireMembers({ loadBalancerName: name, [list.slice(0, 1).toLowerCase() + list.slice(1)]: values });
  return { name: name ?? "", values: values ?? [] };
}

/**
 * Runs `change` in one mutation on the load balancer as it is in its VPC (a stored one without a
 * VPC is in the default VPC) and returns the result. `change` returns undefined when nothing
 * changes: then nothing is written.
 */
async function changeInVpc(
  ctx: ActionContext,
  name: string,
  change: (lb: LoadBalancer, vpc: RegionVpc) => Promise<LoadBalancer | undefined> | LoadBalancer | undefined,
): Promise<LoadBalancer> {
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    const stored = await requireLoadBalancerIn(ctx, tx, name);
    const vpc = await RegionVpc.load(txSubnets(tx), ctx.region);
    const lb = vpc.view(stored);
    const next = await change(lb, vpc);
    if (next === undefined) return lb;
    putLoadBalancer(tx, next);
    return next;
  });
  return result;
}

/** The load balancer placed in `subnets`: its zones are theirs, in their order. */
function placed(lb: LoadBalancer, subnets: readonly Subnet[]): LoadBalancer {
  const p = subnetPlacement(subnets);
  return { ...lb, subnets: p.subnets, availabilityZones: p.availabilityZones, vpcId: p.vpcId };
}

/** Zones change with default subnets only in the default VPC (API docs: else "use AttachLoadBalancerToSubnets"). */
function assertDefaultVpc(lb: LoadBalancer, vpc: RegionVpc, use: string): void {
  if (lb.vpcId !== vpc.defaultVpcId)
    throw invalid(
      `Load balancer ${lb.name} is in VPC ${lb.vpcId ?? ""}, not the default VPC: change its Availability Zones with ${use}.`,
    );
}

async function enableZones(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "AvailabilityZones");
  assertZonesOfRegion(values, ctx.region);
  const lb = await changeInVpc(ctx, name, async (lb, vpc) => {
    assertDefaultVpc(lb, vpc, "AttachLoadBalancerToSubnets");
    const added = [...new Set(values)].filter((z) => !lb.availabilityZones.includes(z));
    if (added.length === 0) return undefined;
    const current = await vpc.resolve(lb.subnets);
    return placed(lb, [...current, ...added.map((z) => vpc.defaultSubnet(z))]);
  });
  return { AvailabilityZones: [...lb.availabilityZones] };
}

/** Zones not enabled are ignored; removing every zone is refused ("at least one … at all times"). */
async function disableZones(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "AvailabilityZones");
  assertZonesOfRegion(values, ctx.region);
  const lb = await changeInVpc(ctx, name, async (lb, vpc) => {
    assertDefaultVpc(lb, vpc, "DetachLoadBalancerFromSubnets");
    if (!lb.availabilityZones.some((z) => values.includes(z))) return undefined;
    const remaining = (await vpc.resolve(lb.subnets)).filter((s) => !values.includes(s.zone));
    if (remaining.length === 0)
      throw invalid("Cannot remove all Availability Zones: a load balancer must have at least one.");
    return placed(lb, remaining);
  });
  return { AvailabilityZones: [...lb.availabilityZones] };
}

/** Subnets already attached are kept; the load balancer serves each new subnet's zone. */
async function attachSubnets(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "Subnets");
  const lb = await changeInVpc(ctx, name, async (lb, vpc) => {
    const subnets = await vpc.resolve([...lb.subnets, ...values]);
    const next = placed(lb, subnets);
    if (next.vpcId !== lb.vpcId)
      throw invalid(`Subnets must be in the load balancer's VPC ${lb.vpcId ?? ""}, not ${next.vpcId}.`);
    return next.subnets.length === lb.subnets.length ? undefined : next;
  });
  return { Subnets: [...lb.subnets] };
}

/** Subnets not attached are ignored; detaching the last one is refused. */
async function detachSubnets(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "Subnets");
  const lb = await changeInVpc(ctx, name, async (lb, vpc) => {
    const remaining = lb.subnets.filter((s) => !values.includes(s));
    if (remaining.length === 0)
      throw invalid("Cannot detach every subnet: a load balancer in a VPC needs at least one subnet.");
    if (remaining.length === lb.subnets.length) return undefined;
    return placed(lb, await vpc.resolve(remaining));
  });
  return { Subnets: [...lb.subnets] };
}

/** Security groups replace the previous ones; every load balancer is in a VPC, so every one takes them. */
async function applySecurityGroups(ctx: ActionContext): Promise<XmlValue> {
  const { name, values } = readRequest(ctx, "SecurityGroups");
  const groups = validateSecurityGroups(values);
  const lb = await changeInVpc(ctx, name, (lb) =>
    JSON.stringify(lb.securityGroups) === JSON.stringify(groups)
      ? undefined
      : { ...lb, securityGroups: groups },
  );
  return { SecurityGroups: [...lb.securityGroups] };
}

export const zoneActions: Readonly<Record<string, ActionDefinition>> = {
  EnableAvailabilityZonesForLoadBalancer: { mutates: true, run: enableZones },
  DisableAvailabilityZonesForLoadBalancer: { mutates: true, run: disableZones },
  AttachLoadBalancerToSubnets: { mutates: true, run: attachSubnets },
  DetachLoadBalancerFromSubnets: { mutates: true, run: detachSubnets },
  ApplySecurityGroupsToLoadBalancer: { mutates: true, run: applySecurityGroups },
};
