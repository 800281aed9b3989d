/**
 * Where a registered instance id is served from. Classic ELB registers instance ids; Ballast has
 * no EC2, so its inventory maps an id to an address and a zone, and an id that is itself an IPv4
 * address is accepted as is, in the load balancer's first Availability Zone. This is the rule's
 * one home.
 */
import type { Backend } from "./node-spec.js";
import type { Instance, LoadBalancer } from "./types.js";
import { isIPv4 } from "./validate.js";

/** Whether an instance id needs no inventory entry: it is an IPv4 address. */
export function instanceIdIsAddress(instanceId: string): boolean {
  return isIPv4(instanceId);
}

/** The zone an instance registered by its address is in: the load balancer's first zone. */
export function addressZone(lb: Pick<LoadBalancer, "availabilityZones">): string {
  return lb.availabilityZones[0] ?? "";
}

/**
 * The back end an instance id of load balancer `lb` names: its inventory entry, or the address it
 * is; else undefined.
 */
export function backendOf(
  instanceId: string,
  inventory: Instance | undefined,
  lb: Pick<LoadBalancer, "availabilityZones">,
): Backend | undefined {
  if (inventory !== undefined)
    return { instanceId: inventory.instanceId, address: inventory.address, zone: inventory.zone };
  return instanceIdIsAddress(instanceId)
    ? { instanceId, address: instanceId, zone: addressZone(lb) }
    : undefined;
}
