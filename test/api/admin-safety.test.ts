import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChangeGuard } from "../../src/controller/guard.js";
import { StateMonitor } from "../../src/controller/state-monitor.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { LATENCY_BOUNDS_MS } from "../../src/model/traffic.js";
import { TrafficHistory } from "../../src/store/traffic-history.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { approvedTicket, withTicket } from "../support/tickets.js";
import {
  ADMIN_KEY,
  authHeader,
  READER_KEY,
  SECOND_ADMIN_KEY,
  sender,
  startTestServer,
  type TestServer,
} from "./support.js";

describe("admin API: alarms and the guard's holds", () => {
  let server: TestServer;
  let guard: ChangeGuard;
  let monitor: StateMonitor;

  before(async () => {
    server = await startTestServer({
      safety: (store) => {
        monitor = new StateMonitor({ store, logger: silentLogger });
        guard = new ChangeGuard({ store, logger: silentLogger, stateVerified: () => monitor.verified });
        return {
          holds: () => guard.holds(),
          release: (zone, by) => guard.release(zone, by),
          discard: (zone, by) => guard.discard(zone, by),
          stateCheck: () => monitor.last,
        };
      },
    });
  });
  after(() => server.close());

  async function call(method: string, path: string, key = ADMIN_KEY, headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: authHeader(key), ...headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("reports the state unchecked, then verified, and no holds", async () => {
    assert.deepEqual((await call("GET", "/admin/v1/alarms")).body, {
      state: null,
      holds: [],
      breakGlass: [],
    });
    await monitor.check();
    const r = await call("GET", "/admin/v1/alarms");
    assert.equal(r.status, 200);
    const state = r.body.state as { verified: boolean; alarms: unknown[]; repairs: number };
    assert.equal(state.verified, true);
    assert.deepEqual(state.alarms, []);
    assert.equal(state.repairs, 0);
  });

  it("lists a held change; a reader may not release it; an administrator does, once", async () => {
    const store = server.store;
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (const n of ["a", "b", "c"]) tx.put("loadBalancer", n, aLoadBalancer({ name: n }));
    });
    const have = await store.head();
    const r = await store.mutate(meta("RestoreState"), async (tx) => {
      tx.delete("loadBalancer", "a");
      tx.delete("loadBalancer", "b");
    });
    const revision = r.revision?.number ?? 0;
    const doc: AgentConfig = {
      format: 2,
      revision,
      zone: "us-east-1a",
      loadBalancers: [],
      removals: ["a", "b"].map((n) => ({ kind: "loadBalancer", loadBalancer: n, key: n, revision })),
    };
    assert.equal(await guard.check(doc, have), null);

    const holds = (await call("GET", "/admin/v1/guard/holds")).body.holds as {
      zone: string;
      toRevision: number;
    }[];
    assert.deepEqual(
      holds.map((h) => [h.zone, h.toRevision]),
      [["us-east-1a", revision]],
    );
    const denied = await call("POST", "/admin/v1/guard/holds/us-east-1a/release", READER_KEY);
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body.error, {
      code: "AccessDenied",
      message:
        "User: arn:aws:iam::000000000000:user/rita is not authorized to perform: ballast:ReleaseGuardHold on resource: arn:aws:ballast::000000000000:guard-hold/us-east-1a",
    });
    assert.equal(guard.holds().length, 1, "a denied call changes nothing");

    const unticketed = await call("POST", "/admin/v1/guard/holds/us-east-1a/release");
    assert.equal(unticketed.status, 403);
    assert.equal((unticketed.body.error as { code: string }).code, "ChangeTicketRequired");
    assert.equal(guard.holds().length, 1, "a release without a ticket changes nothing");
    const ticket = await approvedTicket(sender(server.url, ADMIN_KEY), sender(server.url, SECOND_ADMIN_KEY), {
      operations: ["ballast:ReleaseGuardHold"],
    });
    const released = await call(
      "POST",
      "/admin/v1/guard/holds/us-east-1a/release",
      ADMIN_KEY,
      withTicket(ticket),
    );
    assert.equal(released.status, 200);
    assert.equal((released.body.released as { toRevision: number }).toRevision, revision);
    assert.deepEqual(guard.holds(), []);
    const again = await call(
      "POST",
      "/admin/v1/guard/holds/us-east-1a/release",
      ADMIN_KEY,
      withTicket(ticket),
    );
    assert.equal(again.status, 404);
    assert.match(JSON.stringify(again.body), /No change is held for zone us-east-1a/);
    const sent = await guard.check(doc, have);
    assert.deepEqual(sent?.release, { revision });
  });
});

describe("admin API: the agents", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it("lists each agent's zone, revision, freshness and the document it refused, with the reason", async () => {
    const now = new Date().toISOString();
    await server.store.putAgentStatus({
      agentId: "agent-b",
      zone: "us-east-1b",
      configRevision: 0,
      nodes: [],
      health: [],
      unexplained: ["ghost"],
      refused: { revision: 4, reason: "malformed document: bad upstream" },
      time: now,
    });
    await server.store.putAgentStatus({
      agentId: "agent-a",
      zone: "us-east-1a",
      configRevision: 0,
      nodes: [],
      health: [],
      unexplained: [],
      time: "2026-01-01T00:00:00.000Z",
    });
    const res = await fetch(`${server.url}/admin/v1/agents`, {
      headers: { authorization: authHeader(READER_KEY) },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { head: number; agents: Record<string, unknown>[] };
    assert.deepEqual(
      body.agents.map((a) => [a.agentId, a.zone, a.fresh, a.refused]),
      [
        ["agent-a", "us-east-1a", false, undefined],
        ["agent-b", "us-east-1b", true, { revision: 4, reason: "malformed document: bad upstream" }],
      ],
    );
    assert.deepEqual(body.agents[1]?.unexplained, ["ghost"]);
  });

  it("sums what an agent carries now over its load balancers (load), and leaves it out when not reported", async () => {
    const traffic = new TrafficHistory();
    const own = await startTestServer({ traffic });
    try {
      const report = (loadBalancer: string, activeConnections: number, surgeQueueLength: number) => ({
        loadBalancer,
        requests: 10,
        http4xx: 0,
        http5xx: 0,
        latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
        surgeQueueLength,
        activeConnections,
      });
      for (const agentId of ["agent-c", "agent-d"])
        await own.store.putAgentStatus({
          agentId,
          zone: "us-east-1a",
          configRevision: 0,
          nodes: [],
          health: [],
          unexplained: [],
          time: new Date().toISOString(),
        });
      traffic.record("agent-c", "us-east-1", [report("web", 7, 1), report("api", 5, 2)]);
      const res = await fetch(`${own.url}/admin/v1/agents`, {
        headers: { authorization: authHeader(READER_KEY) },
      });
      const body = (await res.json()) as { agents: Record<string, unknown>[] };
      const byId = new Map(body.agents.map((a) => [a.agentId, a]));
      assert.deepEqual(byId.get("agent-c")?.load, { activeConnections: 12, surgeQueueLength: 3 });
      assert.equal(byId.get("agent-d")?.load, undefined);
    } finally {
      await own.close();
    }
  });
});
