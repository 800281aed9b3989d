/** Every ELB 2012-06-01 action Ballast implements, by its wire name. */
import type { ActionDefinition } from "../context.js";
import { healthCheckActions } from "./health-check.js";
import { instanceActions } from "./instances.js";
import { listenerActions } from "./listeners.js";
import { loadBalancerActions } from "./load-balancers.js";
import { policyActions } from "./policies.js";
import { resourceActions } from "./resources.js";

export const ACTIONS: ReadonlyMap<string, ActionDefinition> = new Map(
  Object.entries({
    ...loadBalancerActions,
    ...instanceActions,
    ...healthCheckActions,
    ...listenerActions,
    ...policyActions,
    ...resourceActions,
  }),
);
