/** ConfigureHealthCheck. */
import { BallastError } from "../../../model/errors.js";
import { withHealthCheck } from "../../../model/load-balancer.js";
import { requireMembers, validateHealthCheck } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { healthCheckXml } from "../describe.js";
import type { XmlValue } from "../xml.js";

async function configureHealthCheck(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const hc = ctx.params.struct("HealthCheck");
  requireMembers({ loadBalancerName: name, healthCheck: hc });
  const healthCheck = validateHealthCheck({
    target: hc?.string("Target"),
    interval: hc?.integer("Interval"),
    timeout: hc?.integer("Timeout"),
    unhealthyThreshold: hc?.integer("UnhealthyThreshold"),
    healthyThreshold: hc?.integer("HealthyThreshold"),
  });
  const key = name ?? "";
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await tx.get("loadBalancer", key);
    if (!lb)
      throw new BallastError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${key}'`);
    tx.put("loadBalancer", key, withHealthCheck(lb, healthCheck));
  });
  return { HealthCheck: healthCheckXml(healthCheck) };
}

export const healthCheckActions: Readonly<Record<string, ActionDefinition>> = {
  ConfigureHealthCheck: { mutates: true, run: configureHealthCheck },
};
