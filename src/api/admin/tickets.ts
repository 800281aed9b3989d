/**
 * The admin JSON API of change tickets (model/ticket.ts), the two-person rule's paperwork:
 *
 *   POST /admin/v1/tickets                 {operations, loadBalancers?, reason, durationMinutes?}
 *                                                                   → 201 { ticket }
 *   GET  /admin/v1/tickets[?state=S]       → { tickets }  newest first
 *   GET  /admin/v1/tickets/{id}            → { ticket }
 *   POST /admin/v1/tickets/{id}/approve    {comment?}  → { ticket }  never by its requester
 *   POST /admin/v1/tickets/{id}/reject     {comment?}  → { ticket }
 *   POST /admin/v1/tickets/{id}/close      → { ticket }  by its requester or approver
 *
 * Each route is its own IAM action (ballast:OpenTicket, …), authorized by the handler. A ticket
 * is opened in the region of the caller's credential scope; its load-balancer names are that
 * region's. Every step is an event the store keeps append-only.
 */
import { randomBytes } from "node:crypto";
import { BallastError } from "../../model/errors.js";
import {
  type ChangeTicket,
  decisionRefusal,
  foldTicket,
  isTicketId,
  parseComment,
  parseTicketRequest,
  TICKET_STATES,
  type TicketEvent,
} from "../../model/ticket.js";
import type { Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject } from "./common.js";

const TICKETS = `${ADMIN_PREFIX}/tickets`;

export function isTicketsPath(path: string): boolean {
  return isBelow(path, TICKETS);
}

export interface TicketRoutesOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** The answer and its status (201 for a ticket opened). */
export interface TicketAnswer {
  readonly status: number;
  readonly body: Json;
}

export function createTicketRoutes(
  opts: TicketRoutesOptions,
): (call: AdminCall, query: URLSearchParams) => Promise<TicketAnswer> {
  const { store } = opts;
  const now = opts.now ?? (() => new Date());
  const logger = opts.logger.child({ component: "tickets" });

  async function load(id: string): Promise<ChangeTicket> {
    const ticket = isTicketId(id) ? foldTicket(await store.ticketEvents(id), now()) : undefined;
    if (ticket === undefined) throw new BallastError("NotFound", `No change ticket ${id}`);
    return ticket;
  }

  return async (call, query) => {
    const rest = call.path
      .slice(TICKETS.length)
      .split("/")
      .filter((s) => s !== "");
    const { method } = call;
    const who = call.credential.principal;
    if (rest.length === 0 && method === "POST") {
      const request = parseTicketRequest(
        jsonObject(call.body, "{operations, loadBalancers?, reason, durationMinutes?}"),
      );
      const id = `tkt-${randomBytes(8).toString("hex")}`;
      const event: TicketEvent = {
        kind: "opened",
        ticket: id,
        time: now().toISOString(),
        principal: who,
        region: call.region,
        ...request,
      };
      await store.appendTicketEvent(event);
      logger.info("change ticket opened", { ticket: id, principal: who, operations: request.operations });
      return { status: 201, body: { ticket: await load(id) } };
    }
    if (rest.length === 0 && method === "GET") {
      const state = query.get("state");
      if (state !== null && !TICKET_STATES.includes(state as ChangeTicket["state"]))
        throw new BallastError("ValidationError", `state must be one of ${TICKET_STATES.join(", ")}`);
      const byId = new Map<string, TicketEvent[]>();
      for (const e of await store.ticketEvents()) {
        const list = byId.get(e.ticket) ?? [];
        list.push(e);
        byId.set(e.ticket, list);
      }
      const at = now();
      const tickets = [...byId.values()]
        .map((events) => foldTicket(events, at))
        .filter((t): t is ChangeTicket => t !== undefined && (state === null || t.state === state))
        .sort((a, b) => (a.openedAt < b.openedAt ? 1 : a.openedAt > b.openedAt ? -1 : 0));
      return { status: 200, body: { tickets } };
    }
    const id = decodeURIComponent(rest[0] ?? "");
    if (rest.length === 1 && method === "GET") return { status: 200, body: { ticket: await load(id) } };
    const verb = rest[1];
    if (
      rest.length === 2 &&
      method === "POST" &&
      (verb === "approve" || verb === "reject" || verb === "close")
    ) {
      const ticket = await load(id);
      const kind = verb === "approve" ? "approved" : verb === "reject" ? "rejected" : "closed";
      const comment =
        verb === "close"
          ? undefined
          : parseComment(call.body.length === 0 ? {} : jsonObject(call.body, "{comment?}"));
      const refusal = decisionRefusal(ticket, kind, who);
      if (refusal) throw refusal;
      const time = now().toISOString();
      const event: TicketEvent =
        kind === "closed"
          ? { kind, ticket: id, time, principal: who }
          : { kind, ticket: id, time, principal: who, ...(comment === undefined ? {} : { comment }) };
      await store.appendTicketEvent(event);
      const after = await load(id);
      // Two approvers at once: the first decision stands, the later one is told so.
      if (kind !== "closed" && after.decidedBy !== who)
        throw new BallastError(
          "ChangeTicketConflict",
          `Change ticket ${id} was ${after.state} by ${after.decidedBy ?? "?"} first`,
        );
      logger.info(`change ticket ${kind}`, { ticket: id, principal: who, requester: ticket.requester });
      return { status: 200, body: { ticket: after } };
    }
    throw new BallastError("NotFound", `No route for ${method} ${call.path}`);
  };
}
