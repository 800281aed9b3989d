/**
 * The traffic relay between replicas (store/traffic-relay.ts) on a real PostgreSQL: figures
 * recorded on one replica reach the other with their receipt time, so both draw the same points;
 * a batch larger than one notification's 8000 bytes arrives whole; a replica ignores its own
 * notifications and those of another journal's schema.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LATENCY_BOUNDS_MS, type TrafficReport } from "../../src/model/traffic.js";
import { RelayedTrafficHistory } from "../../src/store/traffic-relay.js";
import { silentLogger } from "../../src/util/logger.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";

const LBS = 300;

function reports(requests: number): TrafficReport[] {
  return Array.from({ length: LBS }, (_, i) => ({
    loadBalancer: `load-balancer-with-a-long-name-${i}`,
    requests: requests + i,
    http4xx: 0,
    http5xx: i % 3,
    latency: LATENCY_BOUNDS_MS.map(() => 0)
      .concat([0])
      .map((_, k) => (k === 4 ? requests : 0)),
    surgeQueueLength: 0,
    activeConnections: 2,
  }));
}

describe("traffic relay between replicas", () => {
  let pg: PostgresServer;
  const relays: RelayedTrafficHistory[] = [];
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    for (const r of relays) await r.close();
    await pg?.stop();
  });

  it("a batch of 300 load balancers recorded on A draws the same points on B; C (another schema) sees nothing", async () => {
    const a = new RelayedTrafficHistory(pg.url, "public", silentLogger);
    const b = new RelayedTrafficHistory(pg.url, "public", silentLogger);
    const c = new RelayedTrafficHistory(pg.url, "other", silentLogger);
    relays.push(a, b, c);
    for (const r of relays) await r.start();
    const t0 = Math.floor(Date.now() / 5000) * 5000 - 60_000;
    a.record("agent-1", "us-east-1", reports(100), t0);
    a.record("agent-1", "us-east-1", reports(150), t0 + 1000);
    const until = Date.now() + 10_000;
    while (b.received < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(b.received, 1, "one batch, in several notifications, assembled once");
    assert.equal(a.received, 0, "its own notifications are not recorded twice");
    assert.equal(c.received, 0);
    const now = t0 + 10_000;
    for (const i of [0, 7, LBS - 1]) {
      const name = `load-balancer-with-a-long-name-${i}`;
      const onA = a.points("us-east-1", name, 300, now);
      assert.equal(onA.length, 1);
      assert.equal(onA[0]?.requestsPerSecond, 50 / 5);
      assert.deepEqual(b.points("us-east-1", name, 300, now), onA);
      assert.deepEqual(c.points("us-east-1", name, 300, now), []);
    }
    assert.equal(b.load("agent-1")?.activeConnections, 2 * LBS);
  });
});
