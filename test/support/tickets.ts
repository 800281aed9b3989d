/**
 * Change tickets for tests: one principal opens, a second approves, and the test passes the id
 * (`x-ballast-ticket`) on the maintenance call — the two-person rule, through the real API.
 */
import assert from "node:assert/strict";
import { type ClientCredentials, SignedClient } from "../../src/cli/signed-client.js";
import type { ChangeTicket } from "../../src/model/ticket.js";

/** One signed admin call as some principal. */
export type Send = (
  method: string,
  path: string,
  body?: string,
  headers?: Readonly<Record<string, string>>,
) => Promise<{ status: number; body: string }>;

export interface TicketAsk {
  readonly operations: readonly string[];
  readonly loadBalancers?: readonly string[];
  readonly reason?: string;
  readonly durationMinutes?: number;
}

/** Opens a ticket as `requester`; asserts 201. */
export async function openTicket(requester: Send, ask: TicketAsk): Promise<ChangeTicket> {
  const res = await requester(
    "POST",
    "/admin/v1/tickets",
    JSON.stringify({ reason: "test maintenance", ...ask }),
    { "content-type": "application/json" },
  );
  assert.equal(res.status, 201, res.body);
  return (JSON.parse(res.body) as { ticket: ChangeTicket }).ticket;
}

/** Approves (or rejects) `id` as `approver`; asserts 200. */
export async function decide(
  approver: Send,
  id: string,
  verb: "approve" | "reject" | "close" = "approve",
): Promise<ChangeTicket> {
  const res = await approver("POST", `/admin/v1/tickets/${id}/${verb}`);
  assert.equal(res.status, 200, res.body);
  return (JSON.parse(res.body) as { ticket: ChangeTicket }).ticket;
}

/** A ticket opened by `requester` and approved by `approver`: its id. */
export async function approvedTicket(requester: Send, approver: Send, ask: TicketAsk): Promise<string> {
  const ticket = await openTicket(requester, ask);
  const approved = await decide(approver, ticket.id);
  assert.equal(approved.state, "approved");
  return ticket.id;
}

/** The `x-ballast-ticket` header. */
export function withTicket(id: string): Record<string, string> {
  return { "x-ballast-ticket": id };
}

/** A Send over the CLI's SigV4 client. */
export function signedSender(client: SignedClient): Send {
  return async (method, path, body = "", headers = {}) => {
    const { "content-type": contentType, ...rest } = headers;
    const res = await client.fetch(method, path, {
      body,
      headers: rest,
      ...(contentType === undefined ? {} : { contentType }),
    });
    return { status: res.status, body: await res.text() };
  };
}

/** Every whole-state maintenance operation: for tests whose subject is not the rule itself. */
export const STATE_MAINTENANCE = [
  "ballast:RestoreState",
  "ballast:ImportState",
  "ballast:CompactJournal",
  "ballast:RepairState",
] as const;

/**
 * A ticket for `operations`, opened by `requester` and approved by `approver` (two keys of two
 * principals) through the signed admin API at `url`, valid for a day: its id.
 */
export async function ticketFor(
  url: string,
  requester: ClientCredentials,
  approver: ClientCredentials,
  operations: readonly string[] = STATE_MAINTENANCE,
  region = "us-east-1",
): Promise<string> {
  return approvedTicket(
    signedSender(new SignedClient(url, requester, region)),
    signedSender(new SignedClient(url, approver, region)),
    { operations, durationMinutes: 1440, reason: "test maintenance" },
  );
}
