/**
 * The default VPC of a region. EC2-Classic was retired in 2022: every Classic Load Balancer is in
 * a VPC, and one created with AvailabilityZones goes into the region's default VPC, in the
 * default subnet of each zone, with the VPC's default security group. Ballast has no EC2, so
 * these ids are synthesized — stable, derived from the region (and zone) by SHA-256, so every
 * control plane and every restart names them alike:
 *
 * - VPC `vpc-` + 17 hex digits of sha256("ballast:default-vpc:<region>");
 * - subnet of a zone `subnet-` + 17 hex of sha256("ballast:default-subnet:<vpc>:<zone>");
 * - security group `sg-` + 17 hex of sha256("ballast:default-sg:<vpc>").
 *
 * Subnets of the registry marked `defaultForAz` take precedence: the region's default VPC is
 * theirs, and a zone that has one uses it.
 */
import { createHash } from "node:crypto";
import type { Subnet } from "./types.js";

function hex17(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 17);
}

export function synthesizedDefaultVpcId(region: string): string {
  return `vpc-${hex17(`ballast:default-vpc:${region}`)}`;
}

export function defaultSecurityGroupId(vpcId: string): string {
  return `sg-${hex17(`ballast:default-sg:${vpcId}`)}`;
}

function synthesizedSubnetId(vpcId: string, zone: string): string {
  return `subnet-${hex17(`ballast:default-subnet:${vpcId}:${zone}`)}`;
}

/** The default VPC of one region and its default subnet per zone. */
export interface DefaultVpc {
  readonly vpcId: string;
  readonly securityGroupId: string;
  subnetFor(zone: string): string;
}

/**
 * The region's default VPC. `registryDefaults` are the registry's subnets marked `defaultForAz`
 * in the region's zones; when there are any, the VPC is the one of the first by subnet id.
 */
export function defaultVpc(region: string, registryDefaults: readonly Subnet[]): DefaultVpc {
  const sorted = [...registryDefaults].sort((a, b) => (a.subnetId < b.subnetId ? -1 : 1));
  const vpcId = sorted[0]?.vpcId ?? synthesizedDefaultVpcId(region);
  const byZone = new Map<string, string>();
  for (const s of sorted) if (s.vpcId === vpcId && !byZone.has(s.zone)) byZone.set(s.zone, s.subnetId);
  return {
    vpcId,
    securityGroupId: defaultSecurityGroupId(vpcId),
    subnetFor: (zone) => byZone.get(zone) ?? synthesizedSubnetId(vpcId, zone),
  };
}
