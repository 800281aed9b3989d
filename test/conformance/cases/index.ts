/** The conformance table: every row, every action. Add an action by adding its rows here. */
import type { ConformanceCase } from "../support/table.js";
import { attributesTagsZonesCases } from "./attributes-tags-zones.js";
import { healthCheckCases } from "./health-check.js";
import { deregisterCases, describeInstanceHealthCases, registerCases } from "./instances.js";
import { listenerCases, policyCases } from "./listeners-policies.js";
import {
  createLoadBalancerCases,
  deleteLoadBalancerCases,
  describeLoadBalancersCases,
} from "./load-balancers.js";

export const CASES: readonly ConformanceCase[] = [
  ...createLoadBalancerCases,
  ...describeLoadBalancersCases,
  ...deleteLoadBalancerCases,
  ...registerCases,
  ...deregisterCases,
  ...describeInstanceHealthCases,
  ...healthCheckCases,
  ...listenerCases,
  ...policyCases,
  ...attributesTagsZonesCases,
];
