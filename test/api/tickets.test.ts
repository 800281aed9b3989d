/**
 * The two-person rule on the admin API: change tickets opened by one principal and approved by
 * another; every maintenance call without a usable ticket refused with nothing changed;
 * break-glass audited, alarmed and counted, and the blast-radius guard still holding the mass
 * removal it makes; guard releases needing a ticket; administrators' keys and policies guarded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AuditLog } from "../../src/api/auth/audit-log.js";
import { ChangeControl } from "../../src/api/auth/change-control.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { ChangeTicket } from "../../src/model/ticket.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { approvedTicket, decide, openTicket, withTicket } from "../support/tickets.js";
import {
  ADMIN_KEY,
  READER_KEY,
  SECOND_ADMIN_KEY,
  sender,
  startTestServer,
  type TestServer,
} from "./support.js";

const ZONE = "us-east-1a";
type Answer = { status: number; json: Record<string, unknown> };

describe("admin API: change tickets and the two-person rule", () => {
  let server: TestServer;
  let audit: AuditLog;
  let control: ChangeControl;
  let channel: AgentChannel;
  let agentUrl = "";
  let alice: ReturnType<typeof sender>;
  let bob: ReturnType<typeof sender>;
  let rita: ReturnType<typeof sender>;
  /** Revisions: 1 two load balancers, 2 eight more, 3 one of them deleted. */
  const rev = { two: 1, ten: 2, nine: 3 };
  /** Opened and approved first, checked last: the real, one-minute expiry. */
  let shortTicket = "";

  before(async () => {
    server = await startTestServer({
      audit: (store) => {
        audit = new AuditLog({ store, logger: silentLogger, flushMs: 20 });
        return audit;
      },
      changeControl: (store) => {
        control = new ChangeControl({ store, logger: silentLogger });
        return control;
      },
      safety: (store) => {
        channel = new AgentChannel({ store, token: "t", zones: [ZONE], logger: silentLogger });
        const guard = channel.guard;
        return {
          holds: () => guard.holds(),
          release: (zone, by) => guard.release(zone, by),
          discard: (zone, by) => guard.discard(zone, by),
          stateCheck: () => undefined,
        };
      },
    });
    agentUrl = `http://127.0.0.1:${await channel.listen(0)}`;
    alice = sender(server.url, ADMIN_KEY);
    bob = sender(server.url, SECOND_ADMIN_KEY);
    rita = sender(server.url, READER_KEY);
    const store = server.store;
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (const n of ["lb-a", "lb-b"]) tx.put("loadBalancer", n, aLoadBalancer({ name: n }));
    });
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (let i = 0; i < 8; i++) tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
    });
    await store.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "lb-0"));
    shortTicket = await approvedTicket(alice, bob, {
      operations: ["ballast:RestoreState"],
      durationMinutes: 1,
    });
  });
  after(async () => {
    await channel.close();
    await audit.close();
    await server.close();
  });

  async function call(
    as: typeof alice,
    method: string,
    path: string,
    body?: unknown,
    headers = {},
  ): Promise<Answer> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await as(method, `/admin/v1${path}`, text, {
      "content-type": "application/json",
      ...headers,
    });
    return { status: res.status, json: JSON.parse(res.body) as Record<string, unknown> };
  }
  const error = (a: Answer) => a.json.error as { code: string; message: string };
  const restore = (headers: Record<string, string> = {}, to = rev.ten) =>
    call(alice, "POST", "/state/restore", { to }, headers);

  /** The call is refused with `code`, its message matches, and the journal did not move. */
  async function refused(run: () => Promise<Answer>, code: string, message: RegExp): Promise<void> {
    const head = await server.store.head();
    const r = await run();
    assert.equal(error(r)?.code, code, JSON.stringify(r.json));
    assert.match(error(r).message, message);
    assert.equal(await server.store.head(), head, "nothing changed");
  }

  it("no principal holds standing maintenance rights: an administrator's restore without a ticket is refused", async () => {
    await refused(
      () => restore(),
      "ChangeTicketRequired",
      /ballast:RestoreState restores past state.*ballast tickets open/,
    );
    const r = await restore();
    assert.equal(r.status, 403);
  });

  it("opens, lists, shows a ticket; the reader may read but not open or approve", async () => {
    const t = await openTicket(alice, { operations: ["ballast:ImportState"], reason: "listed" });
    assert.match(t.id, /^tkt-[0-9a-f]{16}$/);
    assert.equal(t.state, "pending");
    assert.equal(t.requester, "alice");
    assert.equal(t.region, "us-east-1");
    assert.deepEqual(t.loadBalancers, ["*"]);
    assert.equal(t.uses, 0);
    const listed = (await call(rita, "GET", "/tickets?state=pending")).json.tickets as ChangeTicket[];
    assert.equal(listed[0]?.id, t.id, "newest first");
    assert.ok(listed.every((x) => x.state === "pending"));
    assert.equal(
      ((await call(rita, "GET", `/tickets/${t.id}`)).json.ticket as ChangeTicket).reason,
      "listed",
    );
    assert.equal(
      (await call(rita, "POST", "/tickets", { operations: ["ballast:ImportState"], reason: "x" })).status,
      403,
    );
    assert.equal((await call(rita, "POST", `/tickets/${t.id}/approve`)).status, 403);
    assert.equal(error(await call(rita, "GET", "/tickets?state=open")).code, "ValidationError");
    assert.equal(error(await call(rita, "GET", "/tickets/tkt-ffffffffffffffff")).code, "NotFound");
    const bad = await call(alice, "POST", "/tickets", { operations: ["ballast:RestoreState"], reason: "" });
    assert.equal(error(bad).code, "ValidationError");
  });

  it("refuses self-approval, even for an administrator; a second principal approves", async () => {
    const t = await openTicket(alice, { operations: ["ballast:RestoreState"] });
    const self = await call(alice, "POST", `/tickets/${t.id}/approve`);
    assert.equal(self.status, 403);
    assert.equal(error(self).code, "AccessDenied");
    assert.match(error(self).message, /can never approve it/);
    assert.equal(
      ((await call(alice, "GET", `/tickets/${t.id}`)).json.ticket as ChangeTicket).state,
      "pending",
    );
    await refused(() => restore(withTicket(t.id)), "InvalidChangeTicket", /is pending: it needs approval/);
    const approved = await decide(bob, t.id);
    assert.equal(approved.decidedBy, "bob");
    assert.ok(approved.expiresAt !== undefined);
    assert.equal(error(await call(bob, "POST", `/tickets/${t.id}/reject`)).code, "ChangeTicketConflict");
  });

  it("refuses a rejected ticket, another operation's, a narrow scope, and someone else's, each in its words", async () => {
    const rejected = await openTicket(alice, { operations: ["ballast:RestoreState"] });
    await decide(bob, rejected.id, "reject");
    await refused(() => restore(withTicket(rejected.id)), "InvalidChangeTicket", /was rejected by bob/);
    const other = await approvedTicket(alice, bob, { operations: ["ballast:CompactJournal"] });
    await refused(
      () => restore(withTicket(other)),
      "InvalidChangeTicket",
      /covers ballast:CompactJournal, not ballast:RestoreState/,
    );
    const narrow = await approvedTicket(alice, bob, {
      operations: ["ballast:RestoreState"],
      loadBalancers: ["lb-a"],
    });
    await refused(
      () => restore(withTicket(narrow)),
      "InvalidChangeTicket",
      /covers load balancers lb-a only/,
    );
    const bobs = await approvedTicket(bob, alice, { operations: ["ballast:RestoreState"] });
    await refused(() => restore(withTicket(bobs)), "InvalidChangeTicket", /only its requester/);
    await refused(() => restore(withTicket("tkt-ffffffffffffffff")), "InvalidChangeTicket", /does not exist/);
    await refused(() => restore(withTicket("CHG-1")), "InvalidChangeTicket", /not a change ticket id/);
  });

  it("an approved ticket admits the restore: the use is counted, audited and on the journal's revision", async () => {
    const id = await approvedTicket(alice, bob, {
      operations: ["ballast:RestoreState"],
      reason: "lb-0 deleted by mistake",
    });
    const r = await restore(withTicket(id));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const head = await server.store.revision(await server.store.head());
    assert.equal(head?.action, "RestoreState");
    assert.equal(head?.ticket, id);
    assert.ok(await server.store.get("loadBalancer", "lb-0"), "lb-0 is back");
    assert.equal(((await call(alice, "GET", `/tickets/${id}`)).json.ticket as ChangeTicket).uses, 1);
    assert.equal(control.ticketUses.get("ballast:RestoreState"), 1);
    await audit.flush();
    const record = (await server.store.audit({ action: "RestoreState", result: "allowed" }))[0];
    assert.equal(record?.ticket, id);
    // Closed by its requester: no further use.
    assert.equal((await decide(alice, id, "close")).state, "closed");
    await refused(() => restore(withTicket(id), rev.nine), "InvalidChangeTicket", /was closed/);
  });

  it("break-glass: one administrator acts alone, loudly — audited, counted, an alarm — and the guard still holds the mass removal", async () => {
    const empty = await restore({ "x-ballast-break-glass": "  " }, rev.two);
    assert.equal(error(empty).code, "ValidationError");
    const have = await server.store.head();
    const r = await restore({ "x-ballast-break-glass": "approver unreachable, outage in progress" }, rev.two);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const head = await server.store.revision(await server.store.head());
    assert.equal(head?.ticket, "break-glass: approver unreachable, outage in progress");
    assert.equal(control.breakGlassCounter.get("ballast:RestoreState"), 1);
    // The guard does not care how the change was authorised: 8 of 10 removed is held.
    const poll = await fetch(`${agentUrl}/agent/v1/config?zone=${ZONE}&have=${have}&wait=1`, {
      headers: { authorization: "Bearer t" },
    });
    assert.equal(poll.status, 204, "held");
    const alarms = (await call(rita, "GET", "/alarms")).json;
    const glass = alarms.breakGlass as { principal: string; action: string; reason: string }[];
    assert.equal(glass.length, 1);
    assert.deepEqual(
      { principal: glass[0]?.principal, action: glass[0]?.action, reason: glass[0]?.reason },
      {
        principal: "arn:aws:iam::000000000000:user/alice",
        action: "ballast:RestoreState",
        reason: "approver unreachable, outage in progress",
      },
    );
    assert.equal((alarms.holds as unknown[]).length, 1);
    const audited = await server.store.audit({ breakGlass: true });
    assert.equal(audited[0]?.breakGlass, "approver unreachable, outage in progress");
  });

  it("a guard release needs a ticket for ballast:ReleaseGuardHold; the decision is stored with it", async () => {
    const release = (headers = {}) => call(alice, "POST", `/guard/holds/${ZONE}/release`, undefined, headers);
    const before = (await server.store.guardDecisions()).length;
    await refused(() => release(), "ChangeTicketRequired", /ballast:ReleaseGuardHold/);
    assert.equal(channel.guard.holds().length, 1, "still held");
    const wrong = await approvedTicket(alice, bob, { operations: ["ballast:DiscardGuardHold"] });
    assert.equal(error(await release(withTicket(wrong))).code, "InvalidChangeTicket");
    const id = await approvedTicket(alice, bob, { operations: ["ballast:ReleaseGuardHold"] });
    const r = await release(withTicket(id));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const decisions = await server.store.guardDecisions();
    assert.equal(decisions.length, before + 1);
    assert.deepEqual(
      {
        principal: decisions.at(-1)?.principal,
        ticket: decisions.at(-1)?.ticket,
        decision: decisions.at(-1)?.decision,
      },
      { principal: "alice", ticket: id, decision: "released" },
    );
    assert.deepEqual(channel.guard.holds(), []);
  });

  it("administrators' keys and policies need a ticket; an approver's do not", async () => {
    const head = async () => server.store.head();
    let h = await head();
    await server.store.mutate(meta("PutPrincipal"), async (tx) =>
      tx.put("principal", "root", {
        name: "root",
        createdTime: "2026-01-01T00:00:00.000Z",
        policies: ["BallastAdministrator"],
      }),
    );
    await refused(
      () => call(alice, "POST", "/principals/root/keys"),
      "ChangeTicketRequired",
      /administrator/,
    );
    await refused(
      () => call(alice, "DELETE", "/principals/root/policies/BallastAdministrator"),
      "ChangeTicketRequired",
      /administrator/,
    );
    await refused(
      () => call(alice, "PUT", "/principals/root2", { policies: ["BallastAdministrator"] }),
      "ChangeTicketRequired",
      /administrator/,
    );
    const grant = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "ballast:Restore*", Resource: "*" }],
    };
    await refused(
      () => call(alice, "PUT", "/policies/Restorer", { document: grant }),
      "ChangeTicketRequired",
      /administrator/,
    );
    h = await head();
    const approver = await call(alice, "PUT", "/principals/approver", { policies: ["BallastApprover"] });
    assert.equal(approver.status, 200, JSON.stringify(approver.json));
    assert.equal((await call(alice, "POST", "/principals/approver/keys")).status, 200);
    const read = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "elasticloadbalancing:Describe*", Resource: "*" }],
    };
    assert.equal((await call(alice, "PUT", "/policies/Reader2", { document: read })).status, 200);
    assert.ok((await head()) > h);
    const id = await approvedTicket(alice, bob, { operations: ["ballast:ManagePolicies"] });
    const put = await call(alice, "PUT", "/policies/Restorer", { document: grant }, withTicket(id));
    assert.equal(put.status, 200, JSON.stringify(put.json));
  });

  it("a ticket expires at approval + duration, for real: then it is refused and nothing changes", async () => {
    const t = (await call(alice, "GET", `/tickets/${shortTicket}`)).json.ticket as ChangeTicket;
    const wait = Date.parse(t.expiresAt ?? "") - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 50));
    assert.equal(
      ((await call(alice, "GET", `/tickets/${shortTicket}`)).json.ticket as ChangeTicket).state,
      "expired",
    );
    await refused(() => restore(withTicket(shortTicket)), "InvalidChangeTicket", /expired at/);
  });
});
