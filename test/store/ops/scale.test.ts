/**
 * Scale check, not a timed assertion: 10,000 load balancers with 100,000 registered instances,
 * a logical delete of half of them (the December 2012 shape), a restore, and a verify. The
 * durations are printed as diagnostics for docs/BENCHMARKS.md.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { it } from "node:test";
import { diffsOfKind } from "../../../src/store/ops/diff.js";
import { exportState, importState, writeExportFile } from "../../../src/store/ops/export.js";
import { restore } from "../../../src/store/ops/restore.js";
import { currentState, stateAt } from "../../../src/store/ops/snapshot.js";
import { verifyJournal } from "../../../src/store/ops/verify.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { openTempStore, stateForm } from "./support.js";

const LOAD_BALANCERS = 10_000;
const PER_LB = 10;

it(`restore and verify at scale (${LOAD_BALANCERS} load balancers, ${LOAD_BALANCERS * PER_LB} instances)`, async (t) => {
  const { store, dir, cleanup } = await openTempStore();
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const out = await fn();
    t.diagnostic(`${label}: ${Math.round(performance.now() - start)} ms`);
    return out;
  };
  try {
    const id = (lb: number, i: number): string => `i-${String(lb * PER_LB + i).padStart(8, "0")}`;
    await timed("build: 100,000 instances in 2 revisions", async () => {
      for (let half = 0; half < 2; half++) {
        await store.mutate(meta("AddInstances"), async (tx) => {
          for (let lb = half * (LOAD_BALANCERS / 2); lb < (half + 1) * (LOAD_BALANCERS / 2); lb++) {
            for (let i = 0; i < PER_LB; i++) {
              tx.put(
                "instance",
                id(lb, i),
                anInstance({ instanceId: id(lb, i), address: `10.${lb >> 8}.${lb & 255}.${i}` }),
              );
            }
          }
        });
      }
    });
    await timed("build: 10,000 load balancers with 10 instances each in 1 revision", async () => {
      await store.mutate(meta("CreateLoadBalancers"), async (tx) => {
        for (let lb = 0; lb < LOAD_BALANCERS; lb++) {
          const name = `lb-${lb}`;
          tx.put(
            "loadBalancer",
            name,
            aLoadBalancer({ name, instances: Array.from({ length: PER_LB }, (_, i) => id(lb, i)) }),
          );
        }
      });
    });
    const good = await store.head();
    const goodState = await timed(`stateAt(${good})`, () => stateAt(store, good));
    await timed("incident: logically delete 5,000 load balancers and 1,000 instances", async () => {
      await store.mutate(meta("MaintenanceScript", "mistaken-operator"), async (tx) => {
        for (let lb = 0; lb < LOAD_BALANCERS; lb += 2) tx.delete("loadBalancer", `lb-${lb}`);
        for (let i = 0; i < 1000; i++) tx.delete("instance", id(i, 0));
      });
    });
    const result = await timed(`restore to revision ${good}`, () =>
      restore(store, { to: good, meta: { ...meta("Restore", "oncall"), ticket: "CHG-2012" } }),
    );
    assert.ok(result.revision);
    assert.equal(diffsOfKind(result.diff, "loadBalancer").length, LOAD_BALANCERS / 2);
    assert.equal(diffsOfKind(result.diff, "instance").length, 1000);
    const now = await timed("currentState", () => currentState(store));
    assert.equal(stateForm(now), stateForm(goodState));

    const report = await timed("verifyJournal", () => verifyJournal(store));
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.entitiesChecked, LOAD_BALANCERS * (PER_LB + 1));

    const path = join(dir, "export.json");
    const doc = await timed("writeExportFile", () => writeExportFile(store, path));
    const fresh = await openTempStore();
    try {
      await timed("importState into a fresh store", () => importState(fresh.store, doc, meta("ImportState")));
      assert.equal((await exportState(fresh.store)).entities.length, doc.entities.length);
    } finally {
      await fresh.cleanup();
    }
  } finally {
    await cleanup();
  }
});
