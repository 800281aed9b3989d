/**
 * What the actions on one load balancer share: finding it in the caller's region, the key it is
 * stored under, and the one LoadBalancerNotFound error, worded per action as ELB words it.
 *
 * ELB answers a missing name in two ways. The describing actions that read through the
 * load-balancer index — DescribeLoadBalancers, DescribeLoadBalancerAttributes, DescribeTags — say
 * "Cannot find Load Balancer NAME"; every other action says "There is no ACTIVE Load Balancer
 * named 'NAME'" (both quoted from real responses, e.g. saltstack/salt#35730 shows the two side by
 * side; hashicorp/terraform#5657 the second from DescribeLoadBalancerPolicies).
 */
import { BallastError } from "../../model/errors.js";
import { regionalKey, regionOf } from "../../model/region.js";
import type { LoadBalancer } from "../../model/types.js";
import type { MutationTx } from "../../store/store.js";
import type { ActionContext } from "./context.js";

const CANNOT_FIND: ReadonlySet<string> = new Set([
  "DescribeLoadBalancers",
  "DescribeLoadBalancerAttributes",
  "DescribeTags",
]);

/** The LoadBalancerNotFound of `action` for `name`. */
export function loadBalancerNotFound(action: string, name: string): BallastError {
  return new BallastError(
    "LoadBalancerNotFound",
    CANNOT_FIND.has(action)
      ? `Cannot find Load Balancer ${name}`
      : `There is no ACTIVE Load Balancer named '${name}'`,
  );
}

/** The store key of the load balancer `name` in `region` (model/region.ts). */
export function loadBalancerKey(region: string, name: string): string {
  return regionalKey(region, name);
}

/** The store key of a load balancer document. */
export function keyOf(lb: LoadBalancer): string {
  return regionalKey(regionOf(lb), lb.name);
}

/** The named load balancer of the caller's region, read outside a mutation; else this action's not-found. */
export async function requireLoadBalancer(ctx: ActionContext, name: string): Promise<LoadBalancer> {
  const found = await ctx.store.get("loadBalancer", loadBalancerKey(ctx.region, name));
  if (!found) throw loadBalancerNotFound(ctx.meta.action, name);
  return found.doc;
}

/** The same inside a mutation, through its transaction. */
export async function requireLoadBalancerIn(
  ctx: ActionContext,
  tx: MutationTx,
  name: string,
): Promise<LoadBalancer> {
  const lb = await tx.get("loadBalancer", loadBalancerKey(ctx.region, name));
  if (!lb) throw loadBalancerNotFound(ctx.meta.action, name);
  return lb;
}

/** Writes a load balancer under its key. */
export function putLoadBalancer(tx: MutationTx, lb: LoadBalancer): void {
  tx.put("loadBalancer", keyOf(lb), lb);
}

/**
 * Runs `change` on the named load balancer in one mutation and returns the result; a result equal
 * to what was stored appends nothing.
 */
export async function updateLoadBalancer(
  ctx: ActionContext,
  name: string,
  change: (lb: LoadBalancer, tx: MutationTx) => Promise<LoadBalancer> | LoadBalancer,
): Promise<LoadBalancer> {
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name);
    const next = await change(lb, tx);
    if (JSON.stringify(next) !== JSON.stringify(lb)) putLoadBalancer(tx, next);
    return next;
  });
  return result;
}

/** The load balancers of one region. */
export function inRegion(lbs: readonly LoadBalancer[], region: string): LoadBalancer[] {
  return lbs.filter((lb) => regionOf(lb) === region);
}
