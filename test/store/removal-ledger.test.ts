/**
 * The bulk-change window's ledgers (store/removal-ledger.ts). In memory: the window is a minute of
 * the given clock, and a released reservation no longer counts. On PostgreSQL: two ledgers (two
 * replicas) on one database reserve for one principal at the same moment, and every reservation
 * sees a different total — no two calls slip under a threshold together.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MemoryRemovalLedger, PostgresRemovalLedger } from "../../src/store/removal-ledger.js";
import { silentLogger } from "../../src/util/logger.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";

const ONE = { loadBalancers: 1, instances: 0 };

describe("removal ledger in memory", () => {
  it("counts a minute per principal and forgets what is released", async () => {
    let now = 1_000_000;
    const ledger = new MemoryRemovalLedger(() => now);
    assert.equal((await ledger.reserve("alice", ONE)).totals.loadBalancers, 1);
    const second = await ledger.reserve("alice", { loadBalancers: 1, instances: 3 });
    assert.deepEqual(second.totals, { loadBalancers: 2, instances: 3 });
    assert.equal((await ledger.reserve("bob", ONE)).totals.loadBalancers, 1, "bob's window is his own");
    await second.release();
    assert.deepEqual((await ledger.reserve("alice", ONE)).totals, { loadBalancers: 2, instances: 0 });
    now += 60_001;
    assert.equal((await ledger.reserve("alice", ONE)).totals.loadBalancers, 1, "a minute later it is gone");
  });
});

describe("removal ledger on PostgreSQL", () => {
  let pg: PostgresServer;
  let a: PostgresRemovalLedger;
  let b: PostgresRemovalLedger;
  before(async () => {
    pg = await startPostgres();
    a = new PostgresRemovalLedger(pg.url, "public", silentLogger);
    b = new PostgresRemovalLedger(pg.url, "public", silentLogger);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  it("two replicas reserving at once each see a distinct total", async () => {
    const reservations = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).reserve("alice", ONE)),
    );
    const totals = reservations.map((r) => r.totals.loadBalancers).sort((x, y) => x - y);
    assert.deepEqual(
      totals,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // Released through either replica, gone for both.
    for (const r of reservations.slice(0, 15)) await r.release();
    assert.equal((await b.reserve("alice", ONE)).totals.loadBalancers, 6);
    assert.equal((await a.reserve("carol", { loadBalancers: 0, instances: 4 })).totals.instances, 4);
  });

  it("one batch of several principals keeps their windows apart, whatever their names hold", async () => {
    const hostile = "o'brien\\'); DROP TABLE public.revisions; --";
    const mixed = await Promise.all([
      a.reserve("dave", { loadBalancers: 0, instances: 2 }),
      a.reserve(hostile, { loadBalancers: 1, instances: 0 }),
      a.reserve("dave", { loadBalancers: 0, instances: 3 }),
      a.reserve(hostile, { loadBalancers: 2, instances: 0 }),
    ]);
    assert.deepEqual(
      mixed.map((r) => r.totals),
      [
        { loadBalancers: 0, instances: 2 },
        { loadBalancers: 1, instances: 0 },
        { loadBalancers: 0, instances: 5 },
        { loadBalancers: 3, instances: 0 },
      ],
    );
    // Released, each takes back exactly its own share of its second.
    await mixed[2]?.release();
    await mixed[1]?.release();
    assert.deepEqual((await b.reserve("dave", { loadBalancers: 0, instances: 1 })).totals, {
      loadBalancers: 0,
      instances: 3,
    });
    assert.deepEqual((await b.reserve(hostile, { loadBalancers: 1, instances: 0 })).totals, {
      loadBalancers: 3,
      instances: 0,
    });
  });

  it("refuses a count that is not a whole number", async () => {
    await assert.rejects(a.reserve("erin", { loadBalancers: -1, instances: 0 }), /bad removal count/);
    await assert.rejects(a.reserve("erin", { loadBalancers: 0, instances: 1.5 }), /bad removal count/);
  });
});
