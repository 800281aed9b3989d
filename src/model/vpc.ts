/**
 * Subnets, VPCs and security groups. Ballast has no EC2: subnets come from its own registry (each
 * declared with a zone and a VPC), security groups are checked in form only and stored.
 */
import { BallastError } from "./errors.js";
import type { Subnet } from "./types.js";

const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
const IPV4_CIDR =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/;

export function isSubnetId(id: string): boolean {
  return SUBNET_ID.test(id);
}

export function isVpcId(id: string): boolean {
  return VPC_ID.test(id);
}

export function isIPv4Cidr(cidr: string): boolean {
  return IPV4_CIDR.test(cidr);
}

/** Security group ids in EC2's form (`sg-` and 8 or 17 hex digits), de-duplicated in order. */
export function validateSecurityGroups(ids: readonly string[]): string[] {
  const bad = ids.filter((id) => !SECURITY_GROUP_ID.test(id));
  if (bad.length > 0)
    throw new BallastError(
      "InvalidSecurityGroup",
      `One or more security groups are invalid: ${bad.join(", ")}`,
    );
  return [...new Set(ids)];
}

/** The placement a set of subnets gives a load balancer: one subnet per zone, all in one VPC. */
export interface SubnetPlacement {
  readonly subnets: readonly string[];
  readonly availabilityZones: readonly string[];
  readonly vpcId: string;
}

/**
 * Checks subnets (already resolved through the registry) for a load balancer, as ELB does: all in
 * the same VPC, at most one per Availability Zone. Both are InvalidConfigurationRequest on the wire.
 */
export function subnetPlacement(subnets: readonly Subnet[]): SubnetPlacement {
  const first = subnets[0];
  if (!first) throw new BallastError("InvalidConfigurationRequest", "At least one subnet is required.");
  const byZone = new Map<string, string>();
  for (const s of subnets) {
    if (s.vpcId !== first.vpcId)
      throw new BallastError(
        "InvalidConfigurationRequest",
        `Subnets ${first.subnetId} and ${s.subnetId} are in different VPCs (${first.vpcId}, ${s.vpcId}).`,
      );
    const other = byZone.get(s.zone);
    if (other !== undefined && other !== s.subnetId)
      throw new BallastError(
        "InvalidConfigurationRequest",
        `LoadBalancer can be attached to only one subnet per Availability Zone: ${other} and ${s.subnetId} are both in ${s.zone}.`,
      );
    byZone.set(s.zone, s.subnetId);
  }
  return { subnets: [...byZone.values()], availabilityZones: [...byZone.keys()], vpcId: first.vpcId };
}
