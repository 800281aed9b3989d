/**
 * The fleet workflow on a real SQLite store: placement is journaled and survives a restart without
 * a reshuffle; a dead agent's node moves and the agent it left gets an explicit `moved` removal
 * that the guard does not count as a deleted load balancer; the breaker freezes moves; scaling waits
 * for verified state; and a placement missing from the current state alone is not placed anew.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { compileAgentConfig } from "../../src/controller/compile.js";
import { Fleet } from "../../src/controller/fleet.js";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import { DEFAULT_GUARD_THRESHOLDS, measureChange } from "../../src/model/guard.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";

const cleanups = cleanupsAfterAll();
const TIMEOUT_MS = 15_000;

function status(agentId: string, zone: string, at: number, nodes: AgentStatus["nodes"] = []): AgentStatus {
  return {
    agentId,
    zone,
    configRevision: 0,
    nodes,
    health: [],
    unexplained: [],
    time: new Date(at).toISOString(),
  };
}

let pg: Promise<PostgresServer> | undefined;
after(async () => {
  await (await pg)?.stop();
});
let schemas = 0;

async function setup(driver: "sqlite" | "postgres" = "sqlite"): Promise<{ store: Store; path: string }> {
  const path = join(mkdtempSync(join(tmpdir(), "ballast-fleet-")), "ballast.db");
  let store: Store;
  if (driver === "sqlite") store = new SqliteStore(path);
  else {
    pg ??= startPostgres();
    store = await PostgresStore.open((await pg).url, { schema: `fleet_${process.pid}_${++schemas}` });
  }
  cleanups.push(() => store.close());
  await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", availabilityZones: ["us-east-1a"] }));
  });
  return { store, path };
}

function fleet(store: Store, clock: { now: number }, extra: { verified?: () => boolean } = {}) {
  return new Fleet({
    store,
    logger: silentLogger,
    isActiveController: () => true,
    stateVerified: extra.verified ?? (() => true),
    failoverTimeoutMs: TIMEOUT_MS,
    scaling: {
      upConnections: 10,
      upRequestsPerSecond: 1000,
      downShare: 0.3,
      cooldownSeconds: 60,
      upCooldownSeconds: 0,
    },
    now: () => clock.now,
  });
}

describe("fleet: placement, failover, breaker, scaling", () => {
  for (const driver of ["sqlite", "postgres"] as const)
    it(`places, survives a restart without moving, fails over with a moved removal, and freezes when most agents die (${driver})`, async () => {
      const { store } = await setup(driver);
      const clock = { now: 1_000_000 };
      for (const a of ["a1", "a2", "a3"]) await store.putAgentStatus(status(a, "us-east-1a", clock.now));
      // Settling: the fleet waits one timeout after it starts before it moves anything, but places.
      const f = fleet(store, clock);
      await f.tick();
      const placed = (await store.get("placement", "web"))?.doc;
      assert.deepEqual(placed?.nodes, { "us-east-1a": ["a1"] });
      const placedAt = await store.head();
      assert.equal((await store.revision(placedAt))?.action, "PlaceNodes");

      const onA1 = await compileAgentConfig(store, "us-east-1a", 0, "a1");
      const onA2 = await compileAgentConfig(store, "us-east-1a", 0, "a2");
      assert.deepEqual(
        onA1.loadBalancers.map((l) => l.name),
        ["web"],
      );
      assert.deepEqual(onA2.loadBalancers, []);

      // A second control plane over the same store: the same placement, no new revision.
      clock.now += 1000;
      for (const a of ["a1", "a2", "a3"]) await store.putAgentStatus(status(a, "us-east-1a", clock.now));
      await fleet(store, clock).tick();
      await f.tick();
      assert.equal(await store.head(), placedAt, "nothing reshuffled");

      // a1 stops reporting; the others go on.
      clock.now += TIMEOUT_MS + 1000;
      for (const a of ["a2", "a3"]) await store.putAgentStatus(status(a, "us-east-1a", clock.now));
      await f.tick();
      assert.deepEqual((await store.get("placement", "web"))?.doc.nodes, { "us-east-1a": ["a2"] });
      const movedAt = await store.head();
      assert.equal((await store.revision(movedAt))?.action, "FailoverNodes");
      assert.match(f.metricsText(), /ballast_node_failovers_total 1/);

      // a1 comes back at its old revision: an explicit removal, marked moved, tied to the failover.
      const back = await compileAgentConfig(store, "us-east-1a", placedAt, "a1");
      assert.deepEqual(back.loadBalancers, []);
      assert.deepEqual(back.removals, [
        { kind: "loadBalancer", loadBalancer: "web", key: "web", revision: movedAt, moved: true },
      ]);
      const verdict = measureChange({
        doc: back,
        actionOf: () => "FailoverNodes",
        inService: new Map(),
        stateUnverified: false,
        thresholds: DEFAULT_GUARD_THRESHOLDS,
      });
      assert.equal(verdict.held, false);
      assert.equal(verdict.removedLoadBalancers, 0);
      // a2 got it: an upsert, no removal.
      assert.deepEqual(
        (await compileAgentConfig(store, "us-east-1a", placedAt, "a2")).loadBalancers.map((l) => l.name),
        ["web"],
      );

      // a1 returns: it gets nothing back.
      clock.now += 1000;
      for (const a of ["a1", "a2", "a3"]) await store.putAgentStatus(status(a, "us-east-1a", clock.now));
      await f.tick();
      assert.equal(await store.head(), movedAt);

      // a2 and a3 die at once: 2 of 3 — the breaker opens, nothing moves, an alarm.
      clock.now += TIMEOUT_MS + 1000;
      await store.putAgentStatus(status("a1", "us-east-1a", clock.now));
      await f.tick();
      assert.equal(await store.head(), movedAt, "nothing moved");
      const alarms = f.alarms();
      assert.equal(alarms[0]?.kind, "failover-suspended");
      assert.match(alarms[0]?.message ?? "", /2 of 3 agents/);
      assert.match(f.metricsText(), /ballast_failover_breaker_open 1/);
    });

  it("scales only on verified state, with an alarm otherwise", async () => {
    const { store } = await setup();
    const clock = { now: 2_000_000 };
    let verified = false;
    const f = fleet(store, clock, { verified: () => verified });
    const loaded = () => [
      { loadBalancer: "web", address: "10.0.0.1", connections: 40, requestCount: 0, listeners: [] },
    ];
    await store.putAgentStatus(status("a1", "us-east-1a", clock.now));
    await store.putAgentStatus(status("a2", "us-east-1a", clock.now));
    await f.tick();
    clock.now += 1000;
    await store.putAgentStatus(status("a1", "us-east-1a", clock.now, loaded()));
    await store.putAgentStatus(status("a2", "us-east-1a", clock.now));
    const head = await store.head();
    await f.tick();
    assert.equal(await store.head(), head, "unverified: nothing scaled");
    assert.equal(f.alarms()[0]?.kind, "scaling-refused");
    assert.match(f.alarms()[0]?.message ?? "", /web us-east-1a: 1 → 2 nodes/);

    verified = true;
    await f.tick();
    assert.equal((await store.revision(await store.head()))?.action, "ScaleNodes");
    assert.deepEqual((await store.get("placement", "web"))?.doc.nodes, { "us-east-1a": ["a1", "a2"] });
    assert.deepEqual(f.alarms(), []);
  });

  it("writes nothing in read-only mode", async () => {
    const { store } = await setup();
    const clock = { now: 4_000_000 };
    await store.putAgentStatus(status("a1", "us-east-1a", clock.now));
    const head = await store.head();
    let readOnly: string | undefined = "read-only mode";
    const f = new Fleet({
      store,
      logger: silentLogger,
      isActiveController: () => true,
      stateVerified: () => false,
      paused: () => readOnly,
      now: () => clock.now,
    });
    await f.tick();
    assert.equal(await store.head(), head);
    readOnly = undefined;
    await f.tick();
    assert.equal((await store.revision(await store.head()))?.action, "PlaceNodes");
  });

  it("does not place anew a load balancer whose placement is missing from the current state alone", async () => {
    const { store, path } = await setup();
    const clock = { now: 3_000_000 };
    await store.putAgentStatus(status("a1", "us-east-1a", clock.now));
    await store.putAgentStatus(status("a2", "us-east-1a", clock.now));
    const f = fleet(store, clock);
    await f.tick();
    const head = await store.head();
    const raw = new Database(path);
    cleanups.push(() => {
      raw.close();
    });
    for (const t of raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as {
      name: string;
    }[])
      raw.exec(`DROP TRIGGER "${t.name}"`);
    raw.prepare("DELETE FROM current WHERE kind = 'placement'").run();
    // a1 is now the busier one in nobody's eyes: placing anew could pick either; it must pick none.
    await f.tick();
    assert.equal(await store.head(), head, "no placement written on damaged state");
    // The load balancer itself missing from the current state: its placement is not dropped either.
    raw.prepare("DELETE FROM current WHERE kind = 'loadBalancer'").run();
    await f.tick();
    assert.equal(await store.head(), head);
  });
});
