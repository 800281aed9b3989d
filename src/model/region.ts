/**
 * Regions. ELB is regional: a request acts in the region of its SigV4 credential scope, and every
 * load balancer, limit and name lives in one region. Ballast serves every region from one control
 * plane; zones carry their region in their name (`us-east-2a` is in `us-east-2`).
 *
 * Store keys: data written before regions existed has no region and is in DEFAULT_REGION, so a
 * load balancer (or limit) of DEFAULT_REGION keeps its bare name as its key and any other region's
 * is keyed `<region>/<name>` — a name cannot contain `/`, so the two never collide, and nothing
 * stored earlier has to move.
 */
import { BALLAST_ACCOUNT_ID } from "./certificates.js";
import { BallastError } from "./errors.js";

/** The region of everything stored without one, and of the clients that do not say. */
export const DEFAULT_REGION = "us-east-1";

/** AWS region names: `us-east-1`, `eu-central-2`, `ap-southeast-4`, `us-gov-west-1`, `cn-north-1`. */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function isRegionName(value: string): boolean {
  return REGION.test(value);
}

/** An explicit region (admin API, CLI) that must be well formed; the SigV4 scope has its own check. */
export function validateRegion(value: unknown): string {
  if (typeof value !== "string" || !isRegionName(value))
    throw new BallastError(
      "InvalidParameterValue",
      `region must be an AWS region name such as us-east-1 or eu-west-3, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** The region a stored document is in: its own, or DEFAULT_REGION for one from before regions. */
export function regionOf(doc: { readonly region?: string }): string {
  return doc.region ?? DEFAULT_REGION;
}

/** The store key of a regional entity (load balancer, limit) named `name` in `region`. */
export function regionalKey(region: string, name: string): string {
  return region === DEFAULT_REGION ? name : `${region}/${name}`;
}

/**
 * The region of an Availability Zone name (`us-east-1a` → `us-east-1`), or undefined when the
 * name is not a region followed by one zone letter.
 */
export function regionOfZone(zone: string): string | undefined {
  const region = zone.slice(0, -1);
  return /[a-z]$/.test(zone) && isRegionName(region) ? region : undefined;
}

/**
 * The region an agent's zone serves: the region its name starts with; a zone name without one
 * (an agent set up before regions, or a test's `zone-a`) serves DEFAULT_REGION.
 */
export function regionServedBy(zone: string): string {
  return regionOfZone(zone) ?? DEFAULT_REGION;
}

export function isZoneOf(zone: string, region: string): boolean {
  return regionOfZone(zone) === region;
}

/** A zone name as the admin API accepts it: a region name followed by one letter. */
export function validateZoneName(value: unknown): string {
  if (typeof value !== "string" || regionOfZone(value) === undefined)
    throw new BallastError(
      "InvalidParameterValue",
      `zone must be an Availability Zone name: a region and one letter, such as us-east-1a, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** The account every Ballast resource belongs to (as in the certificate ARNs). */
export const ACCOUNT_ID = BALLAST_ACCOUNT_ID;

/** A Classic Load Balancer's ARN: `arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/<name>`. */
export function loadBalancerArn(region: string, name: string): string {
  return `arn:aws:elasticloadbalancing:${region}:${ACCOUNT_ID}:loadbalancer/${name}`;
}
