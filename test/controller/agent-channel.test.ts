/**
 * The agent channel on a real HTTP server (port 0) over a real SQLite store: the token, the
 * long-poll for configuration, status reports, and the refusals. Only versions (journal
 * revisions) and load-balancer names are asserted, not the shape of the documents' specs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";

const TOKEN = "agent-token-0123456789";
const ZONE = "us-east-1a";

interface Reply {
  readonly status: number;
  readonly text: string;
  readonly ms: number;
}

/** The version and load-balancer names of a configuration document. */
function versionAndNames(text: string): { version: number; names: string[] } {
  const doc = JSON.parse(text) as { revision: number; loadBalancers: { name: string }[] };
  return { version: doc.revision, names: doc.loadBalancers.map((l) => l.name).sort() };
}

describe("AgentChannel", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-agent-channel-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  const channel = new AgentChannel({
    store,
    token: TOKEN,
    zones: [ZONE, "us-east-1b"],
    logger: silentLogger,
  });
  let base = "";

  async function call(
    method: "GET" | "POST",
    path: string,
    opts: { token?: string | null; auth?: string; body?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (opts.auth !== undefined) headers.authorization = opts.auth;
    else if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const t0 = performance.now();
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(opts.body === undefined ? {} : { body: opts.body }),
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - t0 };
  }

  async function createLb(name: string): Promise<number> {
    const done = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", name, aLoadBalancer({ name, availabilityZones: [ZONE] }));
    });
    const n = done.revision?.number;
    assert.ok(n !== undefined);
    return n;
  }

  function status(agentId: string, configRevision: number): string {
    return JSON.stringify({ agentId, zone: ZONE, configRevision, nodes: [], health: [], unexplained: [] });
  }

  before(async () => {
    const port = await channel.listen(0);
    base = `http://127.0.0.1:${port}`;
    await createLb("web");
  });

  after(async () => {
    await channel.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("token", () => {
    for (const [what, opts] of [
      ["no Authorization header", { token: null }],
      ["a wrong token of the same length", { token: TOKEN.replace("0", "9") }],
      ["a wrong token of another length", { token: "short" }],
      ["the token without the Bearer scheme", { auth: TOKEN }],
      ["an empty token", { token: "" }],
    ] as const) {
      it(`refuses ${what} with 401, on config and on status`, async () => {
        const config = await call("GET", `/agent/v1/config?zone=${ZONE}&have=0`, opts);
        assert.equal(config.status, 401);
        assert.deepEqual(JSON.parse(config.text), { error: "unauthorized" });
        const before = (await store.agentStatuses()).length;
        const report = await call("POST", "/agent/v1/status", { ...opts, body: status("intruder", 1) });
        assert.equal(report.status, 401);
        assert.equal((await store.agentStatuses()).length, before, "nothing stored");
      });
    }

    it("accepts the token", async () => {
      const r = await call("GET", `/agent/v1/config?zone=${ZONE}&have=0`);
      assert.equal(r.status, 200);
    });

    it("serves /metrics without a token, and nothing else", async () => {
      assert.equal((await call("GET", "/metrics", { token: null })).status, 200);
      assert.equal((await call("GET", "/agent/v1/nothing", { token: null })).status, 401);
      assert.equal((await call("GET", "/agent/v1/nothing")).status, 404);
    });
  });

  describe("long-poll for configuration", () => {
    it("answers at once when the agent is behind, with the journal head as version", async () => {
      const head = await store.head();
      const r = await call("GET", `/agent/v1/config?zone=${ZONE}&have=0&wait=20`);
      assert.equal(r.status, 200);
      assert.deepEqual(versionAndNames(r.text), { version: head, names: ["web"] });
      assert.ok(r.ms < 5000, `answered in ${Math.round(r.ms)} ms, not after the 20 s wait`);
    });

    it("answers at once without wait, even when the agent is current", async () => {
      const head = await store.head();
      const r = await call("GET", `/agent/v1/config?zone=${ZONE}&have=${head}`);
      assert.equal(r.status, 200);
      assert.equal(versionAndNames(r.text).version, head);
    });

    it("holds a current agent for the wait, then answers 204 with no body", async () => {
      const head = await store.head();
      const r = await call("GET", `/agent/v1/config?zone=${ZONE}&have=${head}&wait=1`);
      assert.equal(r.status, 204);
      assert.equal(r.text, "");
      assert.ok(r.ms >= 900 && r.ms < 5000, `204 after ${Math.round(r.ms)} ms (wait 1 s)`);
      assert.equal(await store.head(), head);
    });

    it("answers a waiting agent when a mutation lands, with the new version and names", async () => {
      const head = await store.head();
      let answered = false;
      const poll = call("GET", `/agent/v1/config?zone=${ZONE}&have=${head}&wait=20`).then((r) => {
        answered = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answered, false, "the poll waits while nothing changed");
      const t0 = performance.now();
      const next = await createLb("api");
      const r = await poll;
      const ms = performance.now() - t0;
      assert.equal(r.status, 200);
      assert.deepEqual(versionAndNames(r.text), { version: next, names: ["api", "web"] });
      assert.ok(next > head);
      assert.ok(ms < 5000, `answered ${Math.round(ms)} ms after the commit, not at the 20 s wait`);
    });

    it("answers a waiting agent when another process commits to the same store", async () => {
      const other = new SqliteStore(join(dir, "ballast.db"));
      try {
        const head = await store.head();
        const poll = call("GET", `/agent/v1/config?zone=${ZONE}&have=${head}&wait=20`);
        await new Promise((r) => setTimeout(r, 300));
        const done = await other.mutate(meta("CreateLoadBalancer"), async (tx) => {
          tx.put(
            "loadBalancer",
            "elsewhere",
            aLoadBalancer({ name: "elsewhere", availabilityZones: [ZONE] }),
          );
        });
        const r = await poll;
        assert.equal(r.status, 200);
        assert.deepEqual(versionAndNames(r.text), {
          version: done.revision?.number,
          names: ["api", "elsewhere", "web"],
        });
        assert.ok(r.ms < 5000, `answered in ${Math.round(r.ms)} ms, not at the 20 s wait`);
      } finally {
        await other.close();
      }
    });

    it("compiles per zone: another zone's agent gets the version, not this zone's load balancers", async () => {
      const r = await call("GET", "/agent/v1/config?zone=us-east-1b&have=0");
      assert.equal(r.status, 200);
      assert.deepEqual(versionAndNames(r.text), { version: await store.head(), names: [] });
    });

    for (const [what, query] of [
      ["an unknown zone", "zone=us-west-2a&have=0"],
      ["no zone", "have=0"],
      ["a negative have", `zone=${ZONE}&have=-1`],
      ["a fractional have", `zone=${ZONE}&have=1.5`],
      ["a have that is not a number", `zone=${ZONE}&have=latest`],
    ] as const) {
      it(`refuses ${what} with 400 and a reason`, async () => {
        const r = await call("GET", `/agent/v1/config?${query}&wait=5`);
        assert.equal(r.status, 400);
        const body = JSON.parse(r.text) as { error: string };
        assert.match(body.error, /zone|have/);
        assert.ok(r.ms < 4000, "refused at once, not after the wait");
      });
    }
  });

  describe("status reports", () => {
    it("accepts a report with 204 and stores it, readable with its version", async () => {
      const head = await store.head();
      const r = await call("POST", "/agent/v1/status", { body: status("agent-a", head) });
      assert.equal(r.status, 204);
      assert.equal(r.text, "");
      const saved = (await store.agentStatuses()).find((s) => s.agentId === "agent-a");
      assert.equal(saved?.configRevision, head);
      assert.equal(saved?.zone, ZONE);
      assert.ok(saved !== undefined && !Number.isNaN(Date.parse(saved.time)), "stamped with the time");
    });

    it("answers an agent that asks with the DNS records of what it serves: every node that can serve each", async () => {
      await createLb("named");
      const report = (agentId: string, zone: string, address: string, routableInService: number) =>
        JSON.stringify({
          agentId,
          zone,
          configRevision: 1,
          nodes: [{ loadBalancer: "named", address, routableInService, listeners: [] }],
          health: [],
          unexplained: [],
        });
      await call("POST", "/agent/v1/status", { body: report("dns-b", "us-east-1b", "127.0.2.9", 1) });
      await call("POST", "/agent/v1/status", { body: report("dns-c", "us-east-1b", "127.0.2.10", 0) });
      const res = await fetch(`${base}/agent/v1/status`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: report("dns-a", ZONE, "127.0.1.9", 1),
      });
      assert.equal(res.status, 200);
      const ack = (await res.json()) as { dns: { name: string; addresses: string[] }[] };
      const lb = (await store.get("loadBalancer", "named"))?.doc;
      assert.deepEqual(ack.dns, [{ name: lb?.dnsName.toLowerCase(), addresses: ["127.0.1.9", "127.0.2.9"] }]);
    });

    it("takes the report of an agent one version behind, which says configVersion, as its revision", async () => {
      const body = JSON.stringify({
        agentId: "agent-old",
        zone: ZONE,
        configVersion: 3,
        nodes: [],
        health: [],
        unexplained: [],
      });
      assert.equal((await call("POST", "/agent/v1/status", { body })).status, 204);
      const saved = (await store.agentStatuses()).find((s) => s.agentId === "agent-old");
      assert.equal(saved?.configRevision, 3);
    });

    it("a later report of the same agent replaces the earlier one", async () => {
      await call("POST", "/agent/v1/status", { body: status("agent-b", 1) });
      const r = await call("POST", "/agent/v1/status", { body: status("agent-b", 2) });
      assert.equal(r.status, 204);
      const mine = (await store.agentStatuses()).filter((s) => s.agentId === "agent-b");
      assert.deepEqual(
        mine.map((s) => s.configRevision),
        [2],
      );
    });

    for (const [what, body, reason] of [
      ["a body that is not JSON", "{not json", /JSON|Unexpected|Expected/],
      ["an empty body", "", /JSON|Unexpected|end/],
      ["a JSON array", "[]", /agentId/],
      ["a JSON string", '"agent"', /object/],
      ["null", "null", /object/],
      [
        "a report without agentId",
        JSON.stringify({ zone: ZONE, configRevision: 1, nodes: [], health: [], unexplained: [] }),
        /agentId/,
      ],
      ["a report with an empty agentId", status("", 1), /agentId/],
      [
        "a report without zone",
        JSON.stringify({ agentId: "x", configRevision: 1, nodes: [], health: [], unexplained: [] }),
        /zone/,
      ],
      [
        "a report with a string configRevision",
        JSON.stringify({
          agentId: "x",
          zone: ZONE,
          configRevision: "1",
          nodes: [],
          health: [],
          unexplained: [],
        }),
        /configRevision/,
      ],
      [
        "a report whose health is not an array",
        JSON.stringify({
          agentId: "x",
          zone: ZONE,
          configRevision: 1,
          nodes: [],
          health: {},
          unexplained: [],
        }),
        /array/,
      ],
    ] as const) {
      it(`refuses ${what} with 400 and a reason, storing nothing`, async () => {
        const before = await store.agentStatuses();
        const r = await call("POST", "/agent/v1/status", { body });
        assert.equal(r.status, 400);
        const parsed = JSON.parse(r.text) as { error: string };
        assert.match(parsed.error, reason);
        assert.deepEqual(await store.agentStatuses(), before);
      });
    }

    it("refuses a report over 4 MiB with 413", async () => {
      const big = JSON.stringify({ agentId: "big", zone: ZONE, configRevision: 1, pad: "x".repeat(5 << 20) });
      const r = await call("POST", "/agent/v1/status", { body: big });
      assert.equal(r.status, 413);
      assert.equal(
        (await store.agentStatuses()).find((s) => s.agentId === "big"),
        undefined,
      );
    });

    it("answers 404 to a GET of the status path and a POST of the config path", async () => {
      assert.equal((await call("GET", "/agent/v1/status")).status, 404);
      assert.equal((await call("POST", `/agent/v1/config?zone=${ZONE}`, { body: "{}" })).status, 404);
    });
  });
});
