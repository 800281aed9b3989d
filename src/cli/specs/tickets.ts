/** `ballast tickets …`: change tickets, the two-person rule's paperwork (signed admin API). */
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

export const TICKETS = defineCommand({
  name: "tickets",
  summary:
    "Change tickets: maintenance needs one, opened by one principal and approved by another, used with --ticket ID.",
  details: [
    "Operations: ballast:RestoreState, ballast:ImportState, ballast:CompactJournal, ballast:RepairState,",
    "ballast:ReleaseGuardHold, ballast:DiscardGuardHold, ballast:ManageCredentials, ballast:ManagePolicies,",
    "ballast:ManagePrincipals, elasticloadbalancing:DeleteLoadBalancer, … (default scope: every load balancer).",
  ],
  flags: {
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    operation: {
      type: "string",
      multiple: true,
      arg: "OP",
      help: "an operation the ticket allows (repeat for more; required)",
    },
    "load-balancer": {
      type: "string",
      multiple: true,
      arg: "NAME",
      defaultText: "every load balancer",
      help: "a load balancer the ticket covers (* and ? wildcards; repeat for more)",
    },
    reason: { type: "string", arg: "TEXT", help: "why the change is needed (required)" },
    duration: {
      type: "string",
      arg: "MINUTES",
      defaultText: "60",
      help: "how long the ticket is good for once approved (1 to 1440)",
    },
    state: {
      type: "string",
      arg: "STATE",
      help: "only pending, approved, rejected, expired or closed tickets",
    },
    comment: { type: "string", arg: "TEXT", help: "a note recorded with the decision" },
  },
  common: CLIENT_JSON,
  verbs: [
    {
      name: "open",
      summary: "ask for a change: operations, scope, reason, duration",
      flags: ["operation", "load-balancer", "reason", "duration"],
    },
    { name: "list", summary: "tickets, newest first", flags: ["state"] },
    { name: "show", args: "ID", summary: "one ticket: state, scope, decisions, uses" },
    { name: "approve", args: "ID", summary: "approve another principal's ticket", flags: ["comment"] },
    { name: "reject", args: "ID", summary: "reject a pending ticket", flags: ["comment"] },
    { name: "close", args: "ID", summary: "end a ticket early (its requester or approver)" },
  ],
});
