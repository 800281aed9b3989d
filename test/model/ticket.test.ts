import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBallastError } from "../../src/model/errors.js";
import {
  type ChangeTicket,
  decisionRefusal,
  foldTicket,
  type MaintenanceUse,
  matchesName,
  parseTicketRequest,
  type TicketEvent,
  ticketRefusal,
} from "../../src/model/ticket.js";

const ID = "tkt-0123456789abcdef";
const T0 = Date.parse("2026-12-24T12:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
const iso = (minutes: number) => at(minutes).toISOString();

function opened(over: Partial<Extract<TicketEvent, { kind: "opened" }>> = {}): TicketEvent {
  return {
    kind: "opened",
    ticket: ID,
    time: iso(0),
    principal: "alice",
    operations: ["ballast:RestoreState"],
    loadBalancers: ["*"],
    region: "us-east-1",
    reason: "restore after the bad deploy",
    durationMinutes: 60,
    ...over,
  };
}
const approvedBy = (principal: string, minutes = 1): TicketEvent => ({
  kind: "approved",
  ticket: ID,
  time: iso(minutes),
  principal,
});

const restore: MaintenanceUse = {
  principal: "alice",
  operation: "ballast:RestoreState",
  region: "us-east-1",
  loadBalancers: "all",
};

function code(e: unknown): string | undefined {
  return isBallastError(e) ? e.code : undefined;
}

describe("change ticket: the fold of its events", () => {
  it("is pending when opened, approved by a second principal, expired after approval + duration", () => {
    assert.equal(foldTicket([opened()], at(0))?.state, "pending");
    const events = [opened(), approvedBy("bob")];
    const t = foldTicket(events, at(30)) as ChangeTicket;
    assert.equal(t.state, "approved");
    assert.equal(t.decidedBy, "bob");
    assert.equal(t.expiresAt, iso(61));
    assert.equal(foldTicket(events, at(60.99))?.state, "approved");
    assert.equal(foldTicket(events, at(61))?.state, "expired");
  });

  it("never counts a decision by the requester, even one written behind the API's back", () => {
    const t = foldTicket([opened(), approvedBy("alice")], at(2)) as ChangeTicket;
    assert.equal(t.state, "pending");
    assert.equal(t.decidedBy, undefined);
  });

  it("keeps the first decision; counts uses; a close ends an approved ticket", () => {
    const used: TicketEvent = {
      kind: "used",
      ticket: ID,
      time: iso(3),
      principal: "alice",
      action: "ballast:RestoreState",
      requestId: "r1",
    };
    const events: TicketEvent[] = [
      opened(),
      approvedBy("bob"),
      { kind: "rejected", ticket: ID, time: iso(2), principal: "carol" },
      used,
      used,
    ];
    const t = foldTicket(events, at(4)) as ChangeTicket;
    assert.equal(t.state, "approved");
    assert.equal(t.uses, 2);
    const closed = foldTicket(
      [...events, { kind: "closed", ticket: ID, time: iso(5), principal: "alice" }],
      at(6),
    );
    assert.equal(closed?.state, "closed");
  });
});

describe("change ticket: what it allows", () => {
  const approved = foldTicket([opened(), approvedBy("bob")], at(2)) as ChangeTicket;

  it("allows its requester its operations in its scope before it expires", () => {
    assert.equal(ticketRefusal(approved, restore), undefined);
  });

  it("refuses each unusable ticket with its own message", () => {
    const pending = foldTicket([opened()], at(1)) as ChangeTicket;
    const rejected = foldTicket(
      [opened(), { kind: "rejected", ticket: ID, time: iso(1), principal: "bob", comment: "not today" }],
      at(2),
    ) as ChangeTicket;
    const expired = foldTicket([opened(), approvedBy("bob")], at(90)) as ChangeTicket;
    const messages = new Set<string>();
    for (const [t, pattern] of [
      [pending, /is pending/],
      [rejected, /was rejected by bob \(not today\)/],
      [expired, /expired at/],
    ] as const) {
      const e = ticketRefusal(t, restore);
      assert.equal(code(e), "InvalidChangeTicket");
      assert.match(e?.message ?? "", pattern);
      messages.add(e?.message ?? "");
    }
    assert.equal(messages.size, 3);
  });

  it("refuses another operation, another principal, a whole-state call on a narrow ticket, a name outside its scope", () => {
    assert.match(
      ticketRefusal(approved, { ...restore, operation: "ballast:ImportState" })?.message ?? "",
      /not ballast:ImportState/,
    );
    assert.match(
      ticketRefusal(approved, { ...restore, principal: "mallory" })?.message ?? "",
      /only its requester/,
    );
    const narrow = foldTicket(
      [opened({ loadBalancers: ["web-*"] }), approvedBy("bob")],
      at(2),
    ) as ChangeTicket;
    assert.match(ticketRefusal(narrow, restore)?.message ?? "", /whole state/);
    assert.equal(ticketRefusal(narrow, { ...restore, loadBalancers: ["web-1", "web-2"] }), undefined);
    assert.match(
      ticketRefusal(narrow, { ...restore, loadBalancers: ["web-1", "db-1"] })?.message ?? "",
      /not db-1/,
    );
    assert.match(
      ticketRefusal(narrow, { ...restore, loadBalancers: ["web-1"], region: "eu-west-1" })?.message ?? "",
      /region us-east-1/,
    );
  });

  it("refuses self-approval whatever the state, and decisions on a ticket no longer pending", () => {
    const pending = foldTicket([opened()], at(1)) as ChangeTicket;
    assert.equal(code(decisionRefusal(pending, "approved", "alice")), "AccessDenied");
    assert.equal(decisionRefusal(pending, "approved", "bob"), undefined);
    assert.equal(code(decisionRefusal(approved, "rejected", "carol")), "ChangeTicketConflict");
    assert.equal(code(decisionRefusal(approved, "closed", "carol")), "AccessDenied");
    assert.equal(decisionRefusal(approved, "closed", "bob"), undefined);
  });
});

describe("change ticket: its request", () => {
  it("validates operations, scope, reason and duration", () => {
    const ok = parseTicketRequest({ operations: ["ballast:restorestate"], reason: " why " });
    assert.deepEqual(ok, {
      operations: ["ballast:RestoreState"],
      loadBalancers: ["*"],
      reason: "why",
      durationMinutes: 60,
    });
    for (const bad of [
      { operations: [], reason: "x" },
      { operations: ["ballast:ReadState"], reason: "x" },
      { operations: ["ballast:RestoreState"], reason: "" },
      { operations: ["ballast:RestoreState"], reason: "x".repeat(1025) },
      { operations: ["ballast:RestoreState"], reason: "x", durationMinutes: 0 },
      { operations: ["ballast:RestoreState"], reason: "x", durationMinutes: 1441 },
      { operations: ["ballast:RestoreState"], reason: "x", loadBalancers: ["a b"] },
      { operations: ["ballast:RestoreState"], reason: "x", scope: ["*"] },
    ])
      assert.throws(
        () => parseTicketRequest(bad),
        (e: unknown) => code(e) === "ValidationError",
        JSON.stringify(bad),
      );
  });

  it("matches load balancer names with * and ?", () => {
    assert.ok(matchesName("web-*", "web-1"));
    assert.ok(matchesName("web-?", "web-1"));
    assert.ok(!matchesName("web-?", "web-10"));
    assert.ok(!matchesName("web", "web-1"));
  });
});
