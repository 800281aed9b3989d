import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { ChangeGuard } from "../../src/controller/guard.js";
import { REPAIR_ACTION, StateMonitor } from "../../src/controller/state-monitor.js";
import { repairCurrentState } from "../../src/store/ops/repair-current.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, anInstance, meta } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";

const cleanups = cleanupsAfterAll();

/** A store with ten load balancers and an instance, and a second connection to its file that bypasses it. */
async function seeded() {
  const path = join(mkdtempSync(join(tmpdir(), "ballast-monitor-")), "ballast.db");
  const store = new SqliteStore(path);
  await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
    for (let i = 0; i < 10; i++)
      tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}`, instances: ["i-1"] }));
  });
  const raw = new Database(path);
  // Whatever guards the schema puts on the journal, the 2012 maintenance process went around them.
  for (const t of raw.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as {
    name: string;
  }[])
    raw.exec(`DROP TRIGGER "${t.name}"`);
  cleanups.push(() => {
    raw.close();
    store.close();
  });
  return { store, raw };
}

describe("state monitor: detect and repair", () => {
  it("repairs rows deleted from the current state behind the API's back, as one new revision that says so", async () => {
    const { store, raw } = await seeded();
    const monitor = new StateMonitor({ store, logger: silentLogger });
    assert.equal((await monitor.check()).verified, true);
    const head = await store.head();

    const deleted = raw
      .prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key IN ('lb-1','lb-4','lb-7')")
      .run();
    assert.equal(deleted.changes, 3);
    raw.prepare("DELETE FROM current WHERE kind = 'instance'").run();
    assert.equal((await store.list("loadBalancer")).length, 7);

    const check = await monitor.check();
    assert.equal(check.verified, true, JSON.stringify(check.alarms));
    assert.ok(check.divergences.some((d) => d.type === "missing-from-current" && d.key === "lb-4"));
    assert.equal(monitor.repairs, 1);
    assert.equal((await store.list("loadBalancer")).length, 10);
    assert.ok(await store.get("instance", "i-1"));
    const repair = await store.revision(head + 1);
    assert.equal(repair?.action, REPAIR_ACTION);
    assert.equal(repair?.principal, "ballast-controller");
    assert.equal(await store.head(), head + 1);
  });

  it("regression: a repair never undoes a change committed after the check that asked for it", async () => {
    const { store, raw } = await seeded();
    raw.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'lb-1'").run();
    // The check named lb-1 and lb-2; lb-2 is then changed through the API before the repair runs.
    await store.mutate(meta("ModifyLoadBalancerAttributes"), async (tx) => {
      const lb = await tx.get("loadBalancer", "lb-2");
      assert.ok(lb);
      tx.put("loadBalancer", "lb-2", { ...lb, instances: [] });
    });
    const revision = await repairCurrentState(
      store,
      [
        { kind: "loadBalancer", key: "lb-1" },
        { kind: "loadBalancer", key: "lb-2" },
      ],
      meta(REPAIR_ACTION),
    );
    assert.ok(revision);
    assert.ok(await store.get("loadBalancer", "lb-1"));
    assert.deepEqual((await store.get("loadBalancer", "lb-2"))?.doc.instances, []);
    assert.equal(
      await repairCurrentState(store, [{ kind: "loadBalancer", key: "lb-2" }], meta(REPAIR_ACTION)),
      undefined,
      "an entity in line with the journal makes no revision",
    );
  });

  it("on a quiet system, finds and repairs the damage by itself within 10 s", async () => {
    const { store, raw } = await seeded();
    const monitor = new StateMonitor({ store, logger: silentLogger, intervalSeconds: 1 });
    monitor.start();
    cleanups.push(() => monitor.stop());
    await monitor.check();
    raw.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'lb-0'").run();
    assert.equal(await store.get("loadBalancer", "lb-0"), undefined);
    const t0 = Date.now();
    while ((await store.get("loadBalancer", "lb-0")) === undefined) {
      assert.ok(Date.now() - t0 < 10_000, "not repaired within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(monitor.repairs, 1);
  });

  it("damage to the journal itself is not repaired: the state is unverified, an alarm is up, and removals are held", async () => {
    const { store, raw } = await seeded();
    await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "lb-9");
    });
    const monitor = new StateMonitor({ store, logger: silentLogger });
    raw.prepare("DELETE FROM versions WHERE kind = 'loadBalancer' AND key = 'lb-3'").run();
    const check = await monitor.check();
    assert.equal(check.verified, false);
    assert.equal(check.alarms[0]?.kind, "journal-damaged");
    assert.equal(monitor.repairs, 0);

    const guard = new ChangeGuard({ store, logger: silentLogger, stateVerified: () => monitor.verified });
    const removal = {
      kind: "loadBalancer" as const,
      loadBalancer: "lb-9",
      key: "lb-9",
      revision: await store.head(),
    };
    const doc = {
      format: 2 as const,
      revision: await store.head(),
      zone: "us-east-1a",
      loadBalancers: [],
      removals: [removal],
    };
    assert.equal(await guard.check(doc, 1), null, "held while the state fails verification");
    assert.match(guard.holds()[0]?.verdict.reasons.join(" ") ?? "", /fails verification/);
  });

  it("resumes from the last check that passed, and still finds journal rows deleted before it", async () => {
    const { store, raw } = await seeded();
    const monitor = new StateMonitor({ store, logger: silentLogger });
    assert.equal((await monitor.check()).verified, true);
    assert.deepEqual(monitor.walks, { whole: 1, resumed: 0 });
    // New revisions: the next check walks only them, and sees their changes.
    for (let i = 0; i < 3; i++)
      await store.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "lb-2", aLoadBalancer({ name: "lb-2", instances: [`i-${i}`] }));
      });
    assert.equal((await monitor.check()).verified, true);
    assert.deepEqual(monitor.walks, { whole: 1, resumed: 1 });
    // The current state is compared whole on a resumed check too: a deleted row is repaired.
    raw.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'lb-2'").run();
    const repaired = await monitor.check();
    assert.ok(repaired.divergences.some((d) => d.type === "missing-from-current" && d.key === "lb-2"));
    assert.equal(monitor.repairs, 1);
    assert.deepEqual((await store.get("loadBalancer", "lb-2"))?.doc.instances, ["i-2"]);
    // Versions of a revision the checks already walked, deleted: the checkpoint no longer holds,
    // the check walks the whole journal and finds the damage.
    raw.prepare("DELETE FROM versions WHERE revision = 2").run();
    const damaged = await monitor.check();
    assert.equal(damaged.verified, false);
    assert.ok(damaged.divergences.some((d) => d.type === "hash-mismatch" && d.revision === 2));
    assert.ok(monitor.walks.whole >= 2);
  });

  it("finds a journal row edited in place at the next whole walk", async () => {
    const { store, raw } = await seeded();
    const monitor = new StateMonitor({ store, logger: silentLogger });
    assert.equal((await monitor.check()).verified, true);
    // Same length, so the row counts cannot tell: only a whole walk recomputes the hash.
    const edited = raw
      .prepare("UPDATE versions SET doc = replace(doc, 'lb-5', 'lb-X') WHERE revision = 1 AND key = 'lb-5'")
      .run();
    assert.equal(edited.changes, 1);
    let check = await monitor.check();
    for (let n = 0; check.verified && n < 20; n++) check = await monitor.check();
    assert.equal(check.verified, false, "a whole walk found it");
    assert.ok(check.divergences.some((d) => d.type === "hash-mismatch" && d.revision === 1));
    assert.ok(monitor.walks.resumed >= 1, "checks resumed in between");
  });

  it("agents running a revision the journal does not have, or a load balancer it never deleted, raise an alarm", async () => {
    const { store } = await seeded();
    const head = await store.head();
    await store.putAgentStatus({
      agentId: "a-1",
      zone: "us-east-1a",
      configRevision: head + 5,
      nodes: [{ loadBalancer: "ghost", address: "127.0.1.1", listeners: [] }],
      health: [],
      unexplained: [],
      time: new Date().toISOString(),
    });
    const check = await new StateMonitor({ store, logger: silentLogger }).check();
    assert.equal(check.verified, false);
    assert.deepEqual(
      check.alarms.map((a) => a.kind),
      ["agents-ahead-of-journal", "agents-serve-unknown"],
    );
    assert.match(check.alarms[1]?.message ?? "", /ghost/);
  });
});
