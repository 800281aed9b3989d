/** The actions on a load balancer's attributes, tags, zones, subnets and security groups, and the account limits. */
import type { ActionDefinition } from "../context.js";
import { attributeActions } from "./attributes.js";
import { limitActions } from "./limits.js";
import { tagActions } from "./tags.js";
import { zoneActions } from "./zones.js";

export const resourceActions: Readonly<Record<string, ActionDefinition>> = {
  ...attributeActions,
  ...tagActions,
  ...zoneActions,
  ...limitActions,
};
