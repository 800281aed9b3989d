/**
 * The tables of the two-person rule, shared by both drivers like the audit log's (audit.ts): the
 * events of every change ticket and the operators' decisions on guard holds. Both are
 * append-only (APPEND_ONLY_TABLES): a ticket's approval, a release, a discard is never edited or
 * removed, only followed by another event.
 */
import type { GuardDecision } from "../model/guard.js";
import type { TicketEvent } from "../model/ticket.js";

export const TICKET_EVENT_COLUMNS = ["ticket", "time", "kind", "principal", "doc"] as const;

export function ticketEventValues(e: TicketEvent): string[] {
  return [e.ticket, e.time, e.kind, e.principal, JSON.stringify(e)];
}

export interface TicketEventRow {
  readonly doc: string;
}

export function toTicketEvent(row: TicketEventRow): TicketEvent {
  return JSON.parse(row.doc) as TicketEvent;
}

export const GUARD_DECISION_COLUMNS = [
  "time",
  "zone",
  "decision",
  "through_revision",
  "principal",
  "ticket",
  "break_glass",
] as const;

export function guardDecisionValues(d: GuardDecision): (string | number | null)[] {
  return [d.time, d.zone, d.decision, d.throughRevision, d.principal, d.ticket ?? null, d.breakGlass ?? null];
}

export interface GuardDecisionRow {
  readonly time: string;
  readonly zone: string;
  readonly decision: string;
  readonly through_revision: number | string;
  readonly principal: string;
  readonly ticket: string | null;
  readonly break_glass: string | null;
}

export function toGuardDecision(row: GuardDecisionRow): GuardDecision {
  return {
    time: row.time,
    zone: row.zone,
    decision: row.decision === "discarded" ? "discarded" : "released",
    throughRevision: Number(row.through_revision),
    principal: row.principal,
    ...(row.ticket === null ? {} : { ticket: row.ticket }),
    ...(row.break_glass === null ? {} : { breakGlass: row.break_glass }),
  };
}

/** `SELECT doc FROM ticket_events [WHERE ticket = ?] ORDER BY id`: oldest first. */
export function ticketEventsQuery(table: string, ticket: string | undefined, param: string): string {
  return `SELECT doc FROM ${table}${ticket === undefined ? "" : ` WHERE ticket = ${param}`} ORDER BY id`;
}

export function guardDecisionsQuery(table: string): string {
  return `SELECT ${GUARD_DECISION_COLUMNS.join(", ")} FROM ${table} ORDER BY id`;
}
