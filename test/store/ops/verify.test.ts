import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { verifyJournal } from "../../../src/store/ops/verify.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { openTempStore, type TempStore, unguardedConnection } from "./support.js";

/** Five revisions: two load balancers, an instance, a registration, a delete. */
async function seed(t: TempStore): Promise<void> {
  const s = t.store;
  await s.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
  });
  await s.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", "api", aLoadBalancer({ name: "api" }));
  });
  await s.mutate(meta("AddInstance"), async (tx) => {
    tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
  });
  await s.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }));
  });
  await s.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", "tmp", aLoadBalancer({ name: "tmp" }));
  });
  await s.mutate(meta("DeleteLoadBalancer"), async (tx) => {
    tx.delete("loadBalancer", "tmp");
  });
}

/**
 * Tampers with the file through a second connection, as a maintenance script would have — one
 * that first dropped the journal's guard triggers, as anyone with write access to the file can.
 */
function tamper(file: string, sql: string, ...params: unknown[]): void {
  const db = unguardedConnection(file);
  db.pragma("foreign_keys = OFF");
  try {
    const changed = db.prepare(sql).run(...params).changes;
    assert.ok(changed > 0, `tampering statement changed nothing: ${sql}`);
  } finally {
    db.close();
  }
}

describe("verifyJournal", () => {
  let t: TempStore;
  before(async () => {
    t = await openTempStore();
    await seed(t);
  });
  after(async () => {
    await t.cleanup();
  });

  it("passes a clean journal and reports progress", async () => {
    const progress: [number, number][] = [];
    const report = await verifyJournal(t.store, { onProgress: (d, n) => progress.push([d, n]), batch: 2 });
    assert.equal(report.ok, true, JSON.stringify(report.divergences));
    assert.equal(report.head, 6);
    assert.equal(report.revisionsChecked, 6);
    assert.equal(report.entitiesChecked, 3);
    assert.equal(report.firstDivergence, undefined);
    assert.deepEqual(progress, [
      [2, 6],
      [4, 6],
      [6, 6],
    ]);
  });

  it("passes an empty journal", async () => {
    const empty = await openTempStore();
    try {
      const report = await verifyJournal(empty.store);
      assert.equal(report.ok, true);
      assert.equal(report.head, 0);
    } finally {
      await empty.cleanup();
    }
  });

  describe("on a tampered copy", () => {
    async function tampered(
      sql: string,
      ...params: unknown[]
    ): Promise<Awaited<ReturnType<typeof verifyJournal>>> {
      const copy = await openTempStore();
      try {
        await seed(copy);
        tamper(copy.file, sql, ...params);
        const reopened = new SqliteStore(copy.file);
        try {
          return await verifyJournal(reopened);
        } finally {
          await reopened.close();
        }
      } finally {
        await copy.cleanup();
      }
    }

    it("names the revision whose entity version was edited", async () => {
      const report = await tampered(
        "UPDATE versions SET doc = ? WHERE kind = 'loadBalancer' AND key = 'api' AND revision = 2",
        JSON.stringify(aLoadBalancer({ name: "api", instances: ["i-evil"] })),
      );
      assert.equal(report.ok, false);
      assert.equal(report.firstDivergence?.type, "hash-mismatch");
      assert.equal(report.firstDivergence?.revision, 2);
      assert.match(report.firstDivergence?.message ?? "", /revision 2 \(CreateLoadBalancer/);
      // The current table still has the original, so the replay disagrees with it as well.
      assert.ok(report.divergences.some((d) => d.type === "doc-differs" && d.key === "api"));
    });

    it("names the revision whose hash was rewritten, and the broken link after it", async () => {
      const report = await tampered("UPDATE revisions SET hash = ? WHERE number = 3", "f".repeat(64));
      assert.equal(report.firstDivergence?.type, "hash-mismatch");
      assert.equal(report.firstDivergence?.revision, 3);
      assert.deepEqual(
        report.divergences.map((d) => [d.type, d.revision]),
        [
          ["hash-mismatch", 3],
          ["broken-link", 4],
        ],
      );
    });

    it("regression (2012): state logically deleted behind the journal's back is found", async () => {
      const report = await tampered("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'web'");
      assert.equal(report.ok, false);
      assert.equal(report.divergences.length, 1);
      assert.equal(report.firstDivergence?.type, "missing-from-current");
      assert.equal(report.firstDivergence?.kind, "loadBalancer");
      assert.equal(report.firstDivergence?.key, "web");
      assert.equal(report.firstDivergence?.revision, 4);
      assert.match(
        report.firstDivergence?.message ?? "",
        /loadBalancer 'web' is missing from the current state/,
      );
    });

    it("finds a current row the journal deleted, and a revision removed from the chain", async () => {
      const extra = await tampered(
        "INSERT INTO current (kind, key, revision, doc) VALUES ('loadBalancer', 'tmp', 5, ?)",
        JSON.stringify(aLoadBalancer({ name: "tmp" })),
      );
      assert.equal(extra.firstDivergence?.type, "extra-in-current");
      assert.equal(extra.firstDivergence?.key, "tmp");
      assert.equal(extra.firstDivergence?.revision, 6);

      const gap = await tampered("DELETE FROM revisions WHERE number = 3");
      assert.equal(gap.firstDivergence?.type, "missing-revision");
      assert.equal(gap.firstDivergence?.revision, 3);
    });
  });
});
