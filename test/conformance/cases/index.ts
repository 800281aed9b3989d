/** The conformance table: every row, every action. Add an action by adding its rows here. */
import type { ConformanceCase } from "../support/table.js";
import { healthCheckCases } from "./health-check.js";
import { deregisterCases, describeInstanceHealthCases, registerCases } from "./instances.js";
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
];
