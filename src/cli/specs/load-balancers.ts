/** `ballast lb|health`: the operator's view of load balancers (signed admin API). */
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

export const LB = defineCommand({
  name: "lb",
  summary: "Load balancers as operators see them: listeners, instances and why they fail, nodes, traffic.",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG },
  common: CLIENT_JSON,
  verbs: [
    { name: "list", summary: "every load balancer: zones, listeners, instances in and out of service" },
    {
      name: "show",
      args: "NAME",
      summary:
        "settings, the last minute's traffic, listeners, instances per zone with their last failure, nodes",
    },
  ],
});

export const HEALTH = defineCommand({
  name: "health",
  args: "NAME",
  summary:
    "A load balancer's instances: state, and the reason of the last failed health check (L7STS/404, L4CON refused…).",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG },
});
