/**
 * Change tickets (principle 5: two people for dangerous work). A ticket is opened by one principal
 * for named maintenance operations on named load balancers, for a limited time; a *different*
 * principal approves or rejects it; its requester then carries its id on each maintenance call
 * until it expires or is closed. Pure: the ticket is the fold of its events (opened, approved,
 * rejected, closed, used), which the store keeps append-only; the clock is a parameter.
 */
import { BallastError } from "./errors.js";
import { matchesAction } from "./iam-policy.js";

export type TicketState = "pending" | "approved" | "rejected" | "expired" | "closed";
export const TICKET_STATES: readonly TicketState[] = ["pending", "approved", "rejected", "expired", "closed"];

/** A ticket as the API shows it: the fold of its events at one moment. */
export interface ChangeTicket {
  readonly id: string;
  readonly state: TicketState;
  readonly requester: string;
  readonly operations: readonly string[];
  readonly loadBalancers: readonly string[];
  readonly region: string;
  readonly reason: string;
  readonly durationMinutes: number;
  readonly openedAt: string;
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  readonly comment?: string;
  /** Approval time + duration. */
  readonly expiresAt?: string;
  readonly uses: number;
}

interface EventBase {
  readonly ticket: string;
  readonly time: string;
  /** The principal name who caused the event. */
  readonly principal: string;
}

export interface TicketOpened extends EventBase {
  readonly kind: "opened";
  readonly operations: readonly string[];
  readonly loadBalancers: readonly string[];
  readonly region: string;
  readonly reason: string;
  readonly durationMinutes: number;
}
export interface TicketDecided extends EventBase {
  readonly kind: "approved" | "rejected";
  readonly comment?: string;
}
export interface TicketClosed extends EventBase {
  readonly kind: "closed";
}
export interface TicketUsed extends EventBase {
  readonly kind: "used";
  /** `ballast:RestoreState`, `elasticloadbalancing:DeleteLoadBalancer`. */
  readonly action: string;
  readonly requestId: string;
}
export type TicketEvent = TicketOpened | TicketDecided | TicketClosed | TicketUsed;

/**
 * The operations a ticket may name. Each is an IAM action whose call needs a ticket: the
 * maintenance routes of the admin API, agents' own keys made or revoked once load balancers
 * exist, and the ELB actions that count towards a bulk change (the removals).
 */
export const TICKET_OPERATIONS: readonly string[] = [
  "ballast:RestoreState",
  "ballast:ImportState",
  "ballast:CompactJournal",
  "ballast:RepairState",
  "ballast:ReleaseGuardHold",
  "ballast:DiscardGuardHold",
  "ballast:ManageCredentials",
  "ballast:ManagePolicies",
  "ballast:ManagePrincipals",
  "ballast:CreateAgentKey",
  "ballast:RevokeAgentKey",
  "elasticloadbalancing:DeleteLoadBalancer",
  "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
  "elasticloadbalancing:DeleteLoadBalancerListeners",
  "elasticloadbalancing:DisableAvailabilityZonesForLoadBalancer",
  "elasticloadbalancing:DetachLoadBalancerFromSubnets",
];

export const MAX_DURATION_MINUTES = 1440;
export const DEFAULT_DURATION_MINUTES = 60;
export const MAX_REASON_CHARS = 1024;
const TICKET_ID = /^tkt-[0-9a-f]{16}$/;
const LB_PATTERN = /^[a-zA-Z0-9*?-]{1,32}$/;

export function isTicketId(s: string): boolean {
  return TICKET_ID.test(s);
}

/** What `POST /tickets` asks, validated. */
export interface TicketRequest {
  readonly operations: readonly string[];
  readonly loadBalancers: readonly string[];
  readonly reason: string;
  readonly durationMinutes: number;
}

function invalid(message: string): BallastError {
  return new BallastError("ValidationError", message);
}

/** Validates the body of `POST /tickets`; unknown fields are refused (a typo must not widen a scope). */
export function parseTicketRequest(doc: Readonly<Record<string, unknown>>): TicketRequest {
  for (const k of Object.keys(doc))
    if (!["operations", "loadBalancers", "reason", "durationMinutes"].includes(k))
      throw invalid(`Unknown field '${k}'; expected operations, loadBalancers, reason, durationMinutes`);
  const ops = doc.operations;
  if (!Array.isArray(ops) || ops.length === 0 || !ops.every((o) => typeof o === "string"))
    throw invalid('operations must be a non-empty list, e.g. ["ballast:RestoreState"]');
  const operations: string[] = [];
  for (const raw of ops as string[]) {
    const known = TICKET_OPERATIONS.find((o) => o.toLowerCase() === raw.toLowerCase());
    if (known === undefined)
      throw invalid(
        `${raw} is not an operation that needs a change ticket; one of: ${TICKET_OPERATIONS.join(", ")}`,
      );
    if (!operations.includes(known)) operations.push(known);
  }
  const lbs = doc.loadBalancers ?? ["*"];
  if (!Array.isArray(lbs) || lbs.length === 0 || lbs.length > 100 || !lbs.every((n) => typeof n === "string"))
    throw invalid("loadBalancers must be a list of 1 to 100 load balancer names (wildcards * and ? allowed)");
  for (const n of lbs as string[])
    if (!LB_PATTERN.test(n)) throw invalid(`${JSON.stringify(n)} is not a load balancer name or pattern`);
  const reason = typeof doc.reason === "string" ? doc.reason.trim() : "";
  if (reason.length < 1 || reason.length > MAX_REASON_CHARS)
    throw invalid(`reason is required: 1 to ${MAX_REASON_CHARS} characters saying why`);
  const duration = doc.durationMinutes ?? DEFAULT_DURATION_MINUTES;
  if (
    typeof duration !== "number" ||
    !Number.isInteger(duration) ||
    duration < 1 ||
    duration > MAX_DURATION_MINUTES
  )
    throw invalid(`durationMinutes must be a whole number from 1 to ${MAX_DURATION_MINUTES}`);
  return { operations, loadBalancers: [...new Set(lbs as string[])], reason, durationMinutes: duration };
}

/** An optional `{comment}` body of approve/reject. */
export function parseComment(doc: Readonly<Record<string, unknown>>): string | undefined {
  for (const k of Object.keys(doc))
    if (k !== "comment") throw invalid(`Unknown field '${k}'; expected comment`);
  if (doc.comment === undefined) return undefined;
  if (typeof doc.comment !== "string" || doc.comment.length > MAX_REASON_CHARS)
    throw invalid(`comment must be text of at most ${MAX_REASON_CHARS} characters`);
  return doc.comment;
}

/**
 * The ticket its events describe at `now` (undefined without an `opened` event). The first
 * decision wins; a decision by the requester is never one (the API refuses it, and a row written
 * behind its back does not count either); an approved ticket past `expiresAt` is expired.
 */
export function foldTicket(events: readonly TicketEvent[], now: Date): ChangeTicket | undefined {
  const opened = events.find((e): e is TicketOpened => e.kind === "opened");
  if (opened === undefined) return undefined;
  let state: TicketState = "pending";
  let decision: TicketDecided | undefined;
  let uses = 0;
  for (const e of events) {
    if (e.kind === "used") uses++;
    else if ((e.kind === "approved" || e.kind === "rejected") && state === "pending") {
      if (e.principal === opened.principal) continue;
      state = e.kind;
      decision = e;
    } else if (e.kind === "closed" && (state === "pending" || state === "approved")) {
      if (state === "approved" && decision !== undefined && expiry(decision, opened) <= Date.parse(e.time))
        continue;
      state = "closed";
    }
  }
  const expiresAt = decision?.kind === "approved" ? expiry(decision, opened) : undefined;
  if (state === "approved" && expiresAt !== undefined && now.getTime() >= expiresAt) state = "expired";
  return {
    id: opened.ticket,
    state,
    requester: opened.principal,
    operations: opened.operations,
    loadBalancers: opened.loadBalancers,
    region: opened.region,
    reason: opened.reason,
    durationMinutes: opened.durationMinutes,
    openedAt: opened.time,
    ...(decision ? { decidedBy: decision.principal, decidedAt: decision.time } : {}),
    ...(decision?.comment !== undefined ? { comment: decision.comment } : {}),
    ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
    uses,
  };
}

function expiry(decision: TicketDecided, opened: TicketOpened): number {
  return Date.parse(decision.time) + opened.durationMinutes * 60_000;
}

/** A state change asked of a ticket by `principal`: the refusal, or undefined when allowed. */
export function decisionRefusal(
  ticket: ChangeTicket,
  decision: "approved" | "rejected" | "closed",
  principal: string,
): BallastError | undefined {
  if (decision !== "closed") {
    if (principal === ticket.requester)
      return new BallastError(
        "AccessDenied",
        `${principal} opened change ticket ${ticket.id} and can never ${decision === "approved" ? "approve" : "reject"} it: a second principal allowed ballast:ApproveTicket must`,
      );
    if (ticket.state !== "pending")
      return new BallastError(
        "ChangeTicketConflict",
        `Change ticket ${ticket.id} is ${ticket.state}: only a pending ticket can be ${decision}`,
      );
    return undefined;
  }
  if (principal !== ticket.requester && principal !== ticket.decidedBy)
    return new BallastError(
      "AccessDenied",
      `Only the requester (${ticket.requester}) or the approver of change ticket ${ticket.id} can close it`,
    );
  if (ticket.state !== "pending" && ticket.state !== "approved")
    return new BallastError("ChangeTicketConflict", `Change ticket ${ticket.id} is already ${ticket.state}`);
  return undefined;
}

/** What one maintenance call does, as a ticket must cover it. */
export interface MaintenanceUse {
  readonly principal: string;
  /** The IAM action: `ballast:RestoreState`. */
  readonly operation: string;
  readonly region: string;
  /** The load balancers it changes, or "all" for a whole-state operation. */
  readonly loadBalancers: readonly string[] | "all";
}

/** How to open a ticket, in every refusal. */
export function howToOpen(operation: string): string {
  return `open one with 'ballast tickets open --operation ${operation} --reason TEXT' (POST /admin/v1/tickets), have a second principal approve it, and pass it with --ticket ID (header x-ballast-ticket); in an emergency, --break-glass --reason TEXT (header x-ballast-break-glass)`;
}

/** The refusal of a call that needs a ticket and carries none. */
export function ticketRequired(use: MaintenanceUse, why: string): BallastError {
  return new BallastError(
    "ChangeTicketRequired",
    `${use.operation} ${why} and needs an approved change ticket: ${howToOpen(use.operation)}`,
  );
}

/** Why `ticket` does not allow `use` at `now`, as an InvalidChangeTicket error; undefined when it does. */
export function ticketRefusal(ticket: ChangeTicket, use: MaintenanceUse): BallastError | undefined {
  const no = (m: string) => new BallastError("InvalidChangeTicket", `Change ticket ${ticket.id} ${m}`);
  switch (ticket.state) {
    case "pending":
      return no(
        `is pending: it needs approval by a principal other than ${ticket.requester} ('ballast tickets approve ${ticket.id}')`,
      );
    case "rejected":
      return no(
        `was rejected by ${ticket.decidedBy ?? "an approver"}${ticket.comment ? ` (${ticket.comment})` : ""}: open a new one`,
      );
    case "expired":
      return no(`expired at ${ticket.expiresAt ?? "?"}: open a new one`);
    case "closed":
      return no("was closed: open a new one");
    case "approved":
      break;
  }
  if (use.principal !== ticket.requester)
    return no(`belongs to ${ticket.requester}: only its requester can use it`);
  if (!ticket.operations.some((o) => matchesAction(o, use.operation)))
    return no(`covers ${ticket.operations.join(", ")}, not ${use.operation}`);
  if (use.loadBalancers === "all") {
    if (!ticket.loadBalancers.includes("*"))
      return no(
        `covers load balancers ${ticket.loadBalancers.join(", ")} only; ${use.operation} here changes the whole state and needs a ticket for "*"`,
      );
    return undefined;
  }
  if (use.region !== ticket.region) return no(`is for region ${ticket.region}, not ${use.region}`);
  const outside = use.loadBalancers.filter((n) => !ticket.loadBalancers.some((p) => matchesName(p, n)));
  if (outside.length > 0)
    return no(`covers load balancers ${ticket.loadBalancers.join(", ")}, not ${outside.join(", ")}`);
  return undefined;
}

/** `*` any run of characters, `?` one; load balancer names are case-sensitive. */
export function matchesName(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${re}$`).test(name);
}

/** A break-glass reason from `x-ballast-break-glass`: non-empty, one line, at most 1024 characters. */
export function parseBreakGlass(raw: string): string {
  const reason = raw.trim();
  if (reason === "" || reason.length > MAX_REASON_CHARS || /[\r\n]/.test(reason))
    throw new BallastError(
      "ValidationError",
      `x-ballast-break-glass must give the reason: 1 to ${MAX_REASON_CHARS} characters on one line`,
    );
  return reason;
}
