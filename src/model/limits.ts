/**
 * The account limits of Classic ELB that DescribeAccountLimits reports and the API enforces. A
 * limit without a stored `limit` entity has ELB's default quota.
 */
import { BallastError } from "./errors.js";

/** In the order DescribeAccountLimits lists them. */
export const LIMIT_NAMES = [
  "classic-load-balancers",
  "classic-listeners",
  "classic-registered-instances",
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** The default quotas of a Classic ELB account (per region; listeners and instances per load balancer). */
export const DEFAULT_LIMITS: Readonly<Record<LimitName, number>> = {
  "classic-load-balancers": 20,
  "classic-listeners": 100,
  "classic-registered-instances": 1000,
};

export const LIMIT_MAX_RANGE = { min: 1, max: 100_000 } as const;

export function isLimitName(name: string): name is LimitName {
  return (LIMIT_NAMES as readonly string[]).includes(name);
}

/** A limit's `max` as the admin API accepts it: a whole number within LIMIT_MAX_RANGE. */
export function validateLimitMax(value: unknown): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < LIMIT_MAX_RANGE.min ||
    value > LIMIT_MAX_RANGE.max
  )
    throw new BallastError(
      "InvalidParameterValue",
      `max must be a whole number from ${LIMIT_MAX_RANGE.min} to ${LIMIT_MAX_RANGE.max}, got ${JSON.stringify(value)}`,
    );
  return value;
}
