import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { freePort } from "../proxy/helpers.js";
import { aLoadBalancer, aNodeSpec, meta } from "../support/builders.js";

const ZONE = "us-east-1a";

// Each case runs twice: for agents that get full documents, and for agents that get deltas (which
// state only what changed), where a change must be held exactly as its full document would be.
for (const delta of [false, true])
  describe(`blast-radius guard between the journal and the agents (${delta ? "delta" : "full"} documents)`, () => {
    const file = join(mkdtempSync(join(tmpdir(), "ballast-guard-")), "b.db");
    const store = new SqliteStore(file);
    const channel = new AgentChannel({ store, token: "t", zones: [ZONE], logger: silentLogger });
    let base = "";
    before(async () => {
      base = `http://127.0.0.1:${await channel.listen(0)}`;
      await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
        for (let i = 0; i < 30; i++) tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
      });
    });
    after(async () => {
      await channel.close();
      store.close();
    });

    async function poll(
      have: number,
      wait = 0,
      url = base,
      full = false,
    ): Promise<{ status: number; doc?: AgentConfig; ms: number }> {
      const t0 = performance.now();
      const q = delta ? "&delta=1" : "";
      const res = await fetch(`${url}/agent/v1/config?zone=${ZONE}&have=${have}&wait=${wait}${q}`, {
        headers: { authorization: "Bearer t" },
      });
      const ms = performance.now() - t0;
      if (res.status !== 200) return { status: res.status, ms };
      const doc = (await res.json()) as AgentConfig;
      assert.equal(doc.delta !== undefined, delta && !full, "a delta exactly when one was asked for");
      if (delta && !full)
        assert.deepEqual(doc.loadBalancers, [], "a delta of deletes states no load balancer");
      return { status: 200, doc, ms };
    }

    async function remove(action: string, names: readonly string[]): Promise<number> {
      const r = await store.mutate(meta(action), async (tx) => {
        for (const n of names) tx.delete("loadBalancer", n);
      });
      return r.revision?.number ?? 0;
    }

    it("an explicit delete of one load balancer of thirty goes out at once", async () => {
      const have = await store.head();
      const revision = await remove("DeleteLoadBalancer", ["lb-29"]);
      const r = await poll(have, 5);
      assert.equal(r.status, 200);
      assert.equal(r.doc?.revision, revision);
      assert.deepEqual(
        r.doc?.removals.map((x) => x.key),
        ["lb-29"],
      );
      assert.equal(r.doc?.release, undefined);
      assert.deepEqual(channel.guard.holds(), []);
    });

    it("a restore that removes 20 of 29 is held; the agent is answered 'no change'; a release sends it, marked", async () => {
      const have = await store.head();
      const gone = Array.from({ length: 20 }, (_, i) => `lb-${i}`);
      const revision = await remove("RestoreState", gone);
      const held = await poll(have, 1);
      assert.equal(held.status, 204, "held: nothing is sent");
      const holds = channel.guard.holds();
      assert.equal(holds.length, 1);
      assert.equal(holds[0]?.toRevision, revision);
      assert.equal(holds[0]?.verdict.removedLoadBalancers, 20);
      assert.match(holds[0]?.verdict.reasons.join(" ") ?? "", /removes 20 of 29 load balancers/);

      // A waiting agent gets the document as soon as an operator releases it.
      const waiting = poll(have, 10);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await channel.guard.release(ZONE))?.toRevision, revision);
      const released = await waiting;
      assert.equal(released.status, 200);
      assert.ok(released.ms < 5000, `answered ${Math.round(released.ms)} ms into a 10 s wait`);
      assert.equal(released.doc?.removals.length, 20);
      assert.deepEqual(released.doc?.release, { revision });
      assert.deepEqual(channel.guard.holds(), []);
    });

    it("a discarded hold never reaches the agents: the document goes without its removals", async () => {
      const have = await store.head();
      const revision = await remove("ImportState", ["lb-20", "lb-21", "lb-22"]);
      assert.equal((await poll(have, 1)).status, 204);
      assert.equal((await channel.guard.discard(ZONE))?.toRevision, revision);
      // To an agent that asked for a delta, the full document: what the discard keeps on it is
      // then absent and not removed, so the agent reports it as unexplained.
      const r = await poll(have, 1, base, true);
      assert.equal(r.status, 200);
      assert.equal(r.doc?.revision, revision);
      assert.deepEqual(r.doc?.removals, []);
      assert.ok(!r.doc?.loadBalancers.some((l) => l.name === "lb-20"));
    });

    it("a release is stored: another control plane on the same SQLite file (a restart, a replica) honours it", async () => {
      const other = new SqliteStore(file);
      const replica = new AgentChannel({ store: other, token: "t", zones: [ZONE], logger: silentLogger });
      try {
        const url = `http://127.0.0.1:${await replica.listen(0)}`;
        const have = await store.head();
        const revision = await remove("RestoreState", ["lb-23", "lb-24", "lb-25"]);
        assert.equal((await poll(have, 1)).status, 204, "held here");
        assert.equal(
          (await poll(have, 1, url)).status,
          204,
          "and held by the replica, which decided nothing",
        );
        const by = { principal: "alice", ticket: "tkt-00000000000000aa" };
        assert.equal((await channel.guard.release(ZONE, by))?.toRevision, revision);
        const stored = (await other.guardDecisions()).at(-1);
        assert.deepEqual(
          { ...stored, time: undefined },
          { time: undefined, zone: ZONE, decision: "released", throughRevision: revision, ...by },
        );
        const r = await poll(have, 1, url);
        assert.equal(r.status, 200, "the replica sends the released change");
        assert.deepEqual(r.doc?.release, { revision });
        assert.equal(r.doc?.removals.length, 3);
        assert.deepEqual(replica.guard.holds(), []);
      } finally {
        await replica.close();
        await other.close();
      }
    });
  });

describe("the agent's guard", () => {
  /** An agent with no control plane, serving load balancers a–d at revision 5. */
  async function servingFour(agentId: string, pool: string) {
    const dataDir = mkdtempSync(join(tmpdir(), `ballast-${agentId}-`));
    const agent = new Agent({
      agentId,
      zone: ZONE,
      pool,
      dataDir,
      controlUrls: [`http://127.0.0.1:${await freePort("127.0.0.1")}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
    });
    await agent.start();
    after(() => agent.stop());
    const names = ["a", "b", "c", "d"];
    const serving = names.map((name) => aNodeSpec({ name, listeners: [] }));
    assert.equal(
      await agent.accept({ format: 2, revision: 5, zone: ZONE, loadBalancers: serving, removals: [] }),
      true,
    );
    return { agent, names, serving };
  }

  it("refuses a document removing most of what it serves, keeps serving, and reports the refusal", async () => {
    const { agent, names, serving } = await servingFour("guard-test", "127.0.14.0/24");
    const wipe: AgentConfig = {
      format: 2,
      revision: 6,
      zone: ZONE,
      loadBalancers: [serving[3] ?? aNodeSpec()],
      removals: names
        .slice(0, 3)
        .map((n) => ({ kind: "loadBalancer", loadBalancer: n, key: n, revision: 6 })),
    };
    assert.equal(await agent.accept(wipe), false);
    assert.equal(agent.revision, 5);
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      names,
    );
    assert.deepEqual(agent.status().refused, {
      revision: 6,
      reason: "the document removes 3 of the 4 load balancers this agent serves without a release",
    });

    assert.equal(await agent.accept({ ...wipe, release: { revision: 6 } }), true);
    assert.equal(agent.revision, 6);
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["d"],
    );
    assert.equal(agent.status().refused, undefined);
  });

  it("refuses a delta removing most of what it serves just as a full document, and one from another revision", async () => {
    const { agent, names } = await servingFour("guard-delta-test", "127.0.15.0/24");
    const wipe: AgentConfig = {
      format: 2,
      revision: 6,
      zone: ZONE,
      loadBalancers: [],
      removals: names
        .slice(0, 3)
        .map((n) => ({ kind: "loadBalancer", loadBalancer: n, key: n, revision: 6 })),
      delta: { from: 5 },
    };
    assert.equal(await agent.accept(wipe), false);
    assert.equal(agent.revision, 5);
    assert.equal(agent.status().nodes.length, 4);
    assert.match(agent.status().refused?.reason ?? "", /removes 3 of the 4 load balancers/);

    const skewed: AgentConfig = { ...wipe, removals: [], delta: { from: 4 } };
    assert.equal(await agent.accept(skewed), false, "a delta from a revision the agent does not run");
    assert.match(
      agent.status().refused?.reason ?? "",
      /a delta from revision 4, but this agent runs revision 5/,
    );

    assert.equal(await agent.accept({ ...wipe, release: { revision: 6 } }), true);
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["d"],
    );
  });
});
