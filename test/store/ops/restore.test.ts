import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { BallastError } from "../../../src/model/errors.js";
import { diffLines } from "../../../src/store/ops/diff-text.js";
import { restore } from "../../../src/store/ops/restore.js";
import { currentState, revisionAtTime, stateAt } from "../../../src/store/ops/snapshot.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { aCredential, openTempStore, stateForm, type TempStore } from "./support.js";

describe("restore", () => {
  let t: TempStore;
  before(async () => {
    t = await openTempStore();
    const s = t.store;
    await s.mutate(meta("Setup"), async (tx) => {
      tx.put("credential", "AKIA1", aCredential({ accessKeyId: "AKIA1" }));
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
      tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }));
      tx.put("loadBalancer", "api", aLoadBalancer({ name: "api" }));
    }); // 1
    await s.mutate(meta("Maintenance"), async (tx) => {
      tx.delete("loadBalancer", "web");
      tx.put("loadBalancer", "api", aLoadBalancer({ name: "api", instances: ["i-1"] }));
      tx.put("credential", "AKIA2", aCredential({ accessKeyId: "AKIA2", principal: "bob" }));
    }); // 2
  });
  after(async () => {
    await t.cleanup();
  });

  it("restores one load balancer and leaves the others as they are", async () => {
    const head = await t.store.head();
    const beforeApi = await t.store.get("loadBalancer", "api");
    const r = await restore(t.store, { to: 1, loadBalancers: ["web"], meta: meta("RestoreLoadBalancers") });
    assert.equal(r.target, 1);
    assert.equal(r.revision?.number, head + 1);
    assert.deepEqual(diffLines(r.diff), ["load balancer web: created"]);
    assert.deepEqual(
      (await t.store.get("loadBalancer", "web"))?.doc,
      aLoadBalancer({ name: "web", instances: ["i-1"] }),
    );
    assert.deepEqual((await t.store.get("loadBalancer", "api"))?.doc, beforeApi?.doc);
    assert.deepEqual(
      (await t.store.changes(head, head + 1)).map((c) => `${c.kind}/${c.key}`),
      ["loadBalancer/web"],
    );
    // Undo: back to the revision before the restore.
    const undo = await restore(t.store, { to: head, loadBalancers: ["web"], meta: meta("Undo") });
    assert.deepEqual(diffLines(undo.diff), ["load balancer web: deleted"]);
    assert.equal(await t.store.get("loadBalancer", "web"), undefined);
  });

  it("refuses a revision that does not exist, and changes nothing", async () => {
    const head = await t.store.head();
    for (const to of [head + 1, -1, 1.5]) {
      await assert.rejects(
        restore(t.store, { to, meta: meta("Restore") }),
        (e: unknown) => e instanceof BallastError && /revision/.test(e.message),
      );
    }
    await assert.rejects(
      restore(t.store, { to: head + 1, meta: meta() }),
      /does not exist: the journal's newest revision is/,
    );
    await assert.rejects(
      restore(t.store, { to: 1, loadBalancers: ["nope"], meta: meta() }),
      (e: unknown) => e instanceof BallastError && e.code === "LoadBalancerNotFound",
    );
    assert.equal(await t.store.head(), head);
  });

  it("refuses to restore to the empty state unless asked, by number or by a time before the journal", async () => {
    const head = await t.store.head();
    await assert.rejects(restore(t.store, { to: 0, meta: meta() }), /allowEmpty/);
    await assert.rejects(
      restore(t.store, { to: { time: "2000-01-01T00:00:00Z" }, meta: meta() }),
      /allowEmpty/,
    );
    await assert.rejects(restore(t.store, { to: { time: "yesterday-ish" }, meta: meta() }), /ISO 8601/);
    assert.equal(await t.store.head(), head);
  });

  it("finds a revision by time", async () => {
    const head = await t.store.head();
    const r1 = await t.store.revision(1);
    assert.ok(r1);
    assert.equal(
      await revisionAtTime(t.store, r1.time),
      (await t.store.revisions(0)).filter((r) => r.time <= r1.time).length,
    );
    assert.equal(await revisionAtTime(t.store, "2999-01-01T00:00:00Z"), head);
    assert.equal(await revisionAtTime(t.store, "2000-01-01T00:00:00Z"), 0);
  });

  it("leaves credentials alone unless includeCredentials, and is undoable", async () => {
    const beforeState = await currentState(t.store);
    const r = await restore(t.store, { to: 1, meta: meta("Restore") });
    assert.ok(r.revision);
    const restored = await currentState(t.store);
    const at1 = await stateAt(t.store, 1);
    assert.equal(
      stateForm(restored, ["loadBalancer", "instance"]),
      stateForm(at1, ["loadBalancer", "instance"]),
    );
    assert.equal(stateForm(restored, ["credential"]), stateForm(beforeState, ["credential"]));
    assert.ok(restored.entities.credential.has("AKIA2"));

    const withKeys = await restore(t.store, { to: 1, includeCredentials: true, meta: meta("Restore") });
    assert.deepEqual(diffLines(withKeys.diff), ["credential AKIA2 (bob, admin): deleted"]);
    assert.equal(stateForm(await currentState(t.store)), stateForm(at1));

    const undo = await restore(t.store, {
      to: r.revision.number - 1,
      includeCredentials: true,
      meta: meta("Undo"),
    });
    assert.ok(undo.revision);
    assert.equal(stateForm(await currentState(t.store)), stateForm(beforeState));
    const again = await restore(t.store, {
      to: r.revision.number - 1,
      includeCredentials: true,
      meta: meta("Undo"),
    });
    assert.equal(again.revision, undefined, "restoring to the state already held appends nothing");
  });

  it("repairs state deleted behind the journal's back by restoring the head", async () => {
    const head = await t.store.head();
    const db = new Database(t.file);
    db.prepare("DELETE FROM current WHERE kind = 'loadBalancer'").run();
    db.close();
    assert.deepEqual(await t.store.list("loadBalancer"), []);
    const r = await restore(t.store, { to: head, meta: meta("Repair") });
    assert.ok(r.revision);
    assert.equal(stateForm(await currentState(t.store)), stateForm(await stateAt(t.store, head)));
  });

  it("warns when a restored load balancer registers instances no longer in the inventory", async () => {
    const s = t.store;
    const { revision } = await s.mutate(meta(), async (tx) => {
      tx.put("instance", "i-9", anInstance({ instanceId: "i-9" }));
      tx.put("loadBalancer", "w9", aLoadBalancer({ name: "w9", instances: ["i-9", "10.0.0.9"] }));
    });
    assert.ok(revision);
    await s.mutate(meta(), async (tx) => {
      tx.delete("instance", "i-9");
      tx.delete("loadBalancer", "w9");
    });
    const r = await restore(s, { to: revision.number, loadBalancers: ["w9"], meta: meta() });
    assert.deepEqual(r.warnings, [
      "load balancer w9: registered instance(s) i-9 are not in the current inventory",
    ]);
    assert.equal(await s.get("instance", "i-9"), undefined);
  });
});
