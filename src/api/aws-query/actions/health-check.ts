/** ConfigureHealthCheck. */
import { withHealthCheck } from "../../../model/load-balancer.js";
import { requireMembers, validateHealthCheck } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { healthCheckXml } from "../describe.js";
import { updateLoadBalancer } from "../load-balancer-kit.js";
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
  await updateLoadBalancer(ctx, name ?? "", (lb) => withHealthCheck(lb, healthCheck));
  return { HealthCheck: healthCheckXml(healthCheck) };
}

export const healthCheckActions: Readonly<Record<string, ActionDefinition>> = {
  ConfigureHealthCheck: { mutates: true, run: configureHealthCheck },
};
