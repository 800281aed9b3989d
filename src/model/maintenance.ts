/**
 * Who counts as a maintainer or an administrator, for the two-person rule: holding any of the
 * maintenance actions puts changes to that principal's keys and policies under a change ticket
 * (api/admin/maintenance.ts). Pure.
 */
import { ADMIN_ROUTES } from "./access.js";
import { evaluate, type PolicyDocument } from "./iam-policy.js";

/** The admin actions that make a principal a maintainer or an administrator. */
export const MAINTENANCE_ACTIONS: readonly string[] = [
  "ballast:RestoreState",
  "ballast:ImportState",
  "ballast:CompactJournal",
  "ballast:RepairState",
  "ballast:ReleaseGuardHold",
  "ballast:DiscardGuardHold",
  "ballast:ManageCredentials",
  "ballast:ManagePolicies",
  "ballast:ManagePrincipals",
];

/** Whether `policies` allow any maintenance action on any resource its route names. */
export function grantsMaintenance(policies: readonly PolicyDocument[]): boolean {
  for (const r of ADMIN_ROUTES) {
    if (!MAINTENANCE_ACTIONS.includes(r.action)) continue;
    const resource = r.resource.replace("{region}", "us-east-1").replace(/\{[a-z]+\}/g, "x");
    if (evaluate(policies, { action: r.action, resource }) === "allow") return true;
  }
  return false;
}
