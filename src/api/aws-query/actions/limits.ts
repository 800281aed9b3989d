/**
 * DescribeAccountLimits, and the limit lookups every enforcing action uses. A limit is the stored
 * `limit` entity of its name (set through the admin API), else ELB's default quota.
 */
import { BallastError } from "../../../model/errors.js";
import { DEFAULT_LIMITS, LIMIT_NAMES, type LimitName } from "../../../model/limits.js";
import { regionalKey } from "../../../model/region.js";
import type { Limit } from "../../../model/types.js";
import { validatePageSize } from "../../../model/validate.js";
import type { MutationTx } from "../../../store/store.js";
import type { ActionContext, ActionDefinition, QuerySettings } from "../context.js";
import type { XmlValue } from "../xml.js";

type LimitLookup = (name: LimitName) => Promise<Limit | undefined>;

/** The default of a limit: ELB's, except the load-balancer quota a test server may lower. */
function defaultLimit(name: LimitName, settings: QuerySettings): number {
  return name === "classic-load-balancers" ? settings.maxLoadBalancers : DEFAULT_LIMITS[name];
}

export async function limitFor(get: LimitLookup, name: LimitName, settings: QuerySettings): Promise<number> {
  return (await get(name))?.max ?? defaultLimit(name, settings);
}

/** A limit of the request's region, read inside its mutation: limits are per region, as ELB's quotas. */
export function limitIn(ctx: ActionContext, tx: MutationTx, name: LimitName): Promise<number> {
  return limitFor((n) => tx.get("limit", regionalKey(ctx.region, n)), name, ctx.settings);
}

/**
 * Listeners per load balancer. The 2012-06-01 model has no TooManyListeners error, so going past
 * the limit is InvalidConfigurationRequest, the model's code for a configuration ELB refuses.
 */
export function assertListenerLimit(count: number, max: number): void {
  if (count > max)
    throw new BallastError(
      "InvalidConfigurationRequest",
      `Exceeded quota of account: at most ${max} listeners per load balancer (classic-listeners)`,
    );
}

/** Registered instances per load balancer; as for listeners, the model has no dedicated code. */
export function assertInstanceLimit(count: number, max: number): void {
  if (count > max)
    throw new BallastError(
      "InvalidConfigurationRequest",
      `Exceeded quota of account: at most ${max} registered instances per load balancer (classic-registered-instances)`,
    );
}

async function describeAccountLimits(ctx: ActionContext): Promise<XmlValue> {
  const pageSize = validatePageSize(ctx.params.integer("PageSize"));
  const marker = ctx.params.string("Marker");
  // The marker is the base64url of the last limit name of the previous page, as for DescribeLoadBalancers.
  let start = 0;
  if (marker !== undefined && marker !== "") {
    const after = LIMIT_NAMES.findIndex((n) => Buffer.from(n, "utf8").toString("base64url") === marker);
    if (after === -1) throw new BallastError("ValidationError", "Invalid Marker");
    start = after + 1;
  }
  const page = LIMIT_NAMES.slice(start, start + pageSize);
  const get: LimitLookup = async (name) => (await ctx.store.get("limit", regionalKey(ctx.region, name)))?.doc;
  const limits: XmlValue[] = [];
  for (const name of page) limits.push({ Name: name, Max: String(await limitFor(get, name, ctx.settings)) });
  const last = page.at(-1);
  const more = last !== undefined && start + page.length < LIMIT_NAMES.length;
  return {
    Limits: limits,
    NextMarker: more ? Buffer.from(last, "utf8").toString("base64url") : undefined,
  };
}

export const limitActions: Readonly<Record<string, ActionDefinition>> = {
  DescribeAccountLimits: { mutates: false, run: describeAccountLimits },
};
