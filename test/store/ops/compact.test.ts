/**
 * Explicit, retention-bounded compaction: the rules (ticket, retention, existing revision, a
 * journal that verifies, no agent behind), and the journal's promises afterwards — the state at C
 * and later unchanged, reads below C refused, verify still passes and still finds tampering,
 * restore, diff and export/import work.
 *
 * Revisions are made "old" by mocking Date while they are committed (the store stamps them with
 * `new Date()`), so no test sleeps.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it, mock } from "node:test";
import { isBallastError } from "../../../src/model/errors.js";
import {
  compactJournal,
  diffRevisions,
  exportState,
  importState,
  restore,
  stateAt,
  verifyJournal,
} from "../../../src/store/ops/index.js";
import type { MutationTx, RevisionMeta } from "../../../src/store/store.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { aCredential, openTempStore, stateForm, type TempStore, unguardedConnection } from "./support.js";

const DAY = 24 * 60 * 60 * 1000;
const COMPACT: RevisionMeta = { ...meta("CompactJournal", "carol") };

interface Seeded extends TempStore {
  /** Revision numbers by step name: r1 … r7, committed 200, 180, 150, 120, 100, 60 and 10 days ago. */
  readonly rev: Readonly<Record<string, number>>;
}

const open: TempStore[] = [];
afterEach(async () => {
  mock.timers.reset();
  for (const t of open.splice(0)) await t.cleanup();
});

async function seeded(): Promise<Seeded> {
  const t = await openTempStore();
  open.push(t);
  const rev: Record<string, number> = {};
  const at = async (name: string, daysAgo: number, fn: (tx: MutationTx) => void): Promise<void> => {
    const when = Date.now() - daysAgo * DAY;
    mock.timers.enable({ apis: ["Date"], now: when });
    try {
      const { revision } = await t.store.mutate(meta("Seed", "bob"), async (tx) => fn(tx));
      assert.ok(revision);
      rev[name] = revision.number;
    } finally {
      mock.timers.reset();
    }
  };
  await at("r1", 200, (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
    tx.put("loadBalancer", "old", aLoadBalancer({ name: "old" }));
    tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
  });
  await at("r2", 180, (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }));
    tx.delete("loadBalancer", "old");
  });
  await at("r3", 150, (tx) => {
    tx.put("loadBalancer", "gone", aLoadBalancer({ name: "gone" }));
    tx.put("credential", aCredential().accessKeyId, aCredential());
  });
  await at("r4", 120, (tx) => {
    tx.delete("loadBalancer", "gone");
    tx.put("loadBalancer", "back", aLoadBalancer({ name: "back" }));
  });
  await at("r5", 100, (tx) => {
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"], scheme: "internal" }));
    tx.delete("loadBalancer", "back");
  });
  await at("r6", 60, (tx) => {
    tx.put("loadBalancer", "back", aLoadBalancer({ name: "back", instances: ["i-1"] }));
    tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1", "i-2"] }));
  });
  await at("r7", 10, (tx) => {
    tx.put("loadBalancer", "new", aLoadBalancer({ name: "new" }));
  });
  return { ...t, rev };
}

const r = (s: Seeded, name: string): number => s.rev[name] ?? -1;

function validation(pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isBallastError(e), `a BallastError, not ${String(e)}`);
    assert.equal(e.code, "ValidationError");
    assert.match(e.message, pattern);
    return true;
  };
}

describe("journal compaction", () => {
  it("refuses without a change ticket, and removes nothing", async () => {
    const s = await seeded();
    const changes = await s.store.changes(0);
    for (const ticket of ["", "   "]) {
      await assert.rejects(
        compactJournal(s.store, { through: r(s, "r5"), ticket, meta: COMPACT }),
        validation(/change ticket/),
      );
    }
    assert.deepEqual(await s.store.changes(0), changes);
    assert.equal(await s.store.compactedThrough(), 0);
  });

  it("refuses a revision within the retention period, and a retention period under a day", async () => {
    const s = await seeded();
    await assert.rejects(
      compactJournal(s.store, { through: r(s, "r6"), ticket: "CHG-1", meta: COMPACT }),
      validation(/revision 6 was committed at .* within the retention period of 90 days/),
    );
    await assert.rejects(
      compactJournal(s.store, { through: r(s, "r5"), ticket: "CHG-1", meta: COMPACT, retentionDays: 120 }),
      validation(/retention period of 120 days/),
    );
    await assert.rejects(
      compactJournal(s.store, { through: r(s, "r5"), ticket: "CHG-1", meta: COMPACT, retentionDays: 0 }),
      validation(/at least 1/),
    );
    // The clock the retention is measured with: 60 days on, revision 6 is 120 days old.
    const later = (): Date => new Date(Date.now() + 60 * DAY);
    const { record } = await compactJournal(s.store, {
      through: r(s, "r6"),
      ticket: "CHG-1",
      meta: COMPACT,
      now: later,
    });
    assert.equal(record.through, r(s, "r6"));
  });

  it("refuses a missing revision, both or neither of through and olderThanDays", async () => {
    const s = await seeded();
    await assert.rejects(
      compactJournal(s.store, { through: 99, ticket: "CHG-1", meta: COMPACT }),
      validation(/revision 99 does not exist/),
    );
    await assert.rejects(
      compactJournal(s.store, { ticket: "CHG-1", meta: COMPACT }),
      validation(/exactly one/),
    );
    await assert.rejects(
      compactJournal(s.store, { through: 1, olderThanDays: 100, ticket: "CHG-1", meta: COMPACT }),
      validation(/exactly one/),
    );
    await assert.rejects(
      compactJournal(s.store, { olderThanDays: 365, ticket: "CHG-1", meta: COMPACT }),
      validation(/no revision is older than 365 days/),
    );
  });

  it("picks the newest revision older than --older-than days", async () => {
    const s = await seeded();
    const result = await compactJournal(s.store, { olderThanDays: 130, ticket: "CHG-2", meta: COMPACT });
    assert.equal(result.through, r(s, "r3"));
    const again = await compactJournal(s.store, { olderThanDays: 95, ticket: "CHG-3", meta: COMPACT });
    assert.equal(again.through, r(s, "r5"));
    assert.equal(again.compacted, true);
  });

  it("keeps the state at C and after, removes superseded versions, and lists the record", async () => {
    const s = await seeded();
    const c = r(s, "r5");
    const atC = stateForm(await stateAt(s.store, c));
    const atHead = stateForm(await stateAt(s.store, r(s, "r7")));
    const diffBefore = await diffRevisions(s.store, c, r(s, "r7"));

    const result = await compactJournal(s.store, { through: c, ticket: " CHG-7 ", meta: COMPACT });
    assert.equal(result.compacted, true);
    const { record } = result;
    assert.equal(record.through, c);
    assert.equal(record.ticket, "CHG-7");
    assert.equal(record.principal, "carol");
    // web r1, r2; old r1 and its tombstone; gone r3 and its tombstone; back r4 (its tombstone stays).
    assert.equal(record.versionsRemoved, 7);
    assert.deepEqual(await s.store.compactions(), [record]);

    assert.equal(stateForm(await stateAt(s.store, c)), atC);
    assert.equal(stateForm(await stateAt(s.store, r(s, "r7"))), atHead);
    assert.deepEqual(await diffRevisions(s.store, c, r(s, "r7")), diffBefore);
    assert.equal((await s.store.revisions(0)).length, 7, "every revision row is kept");

    const again = await compactJournal(s.store, { through: r(s, "r4"), ticket: "CHG-8", meta: COMPACT });
    assert.deepEqual(again, { through: r(s, "r4"), compacted: false, record });
  });

  it("refuses point-in-time reads, diffs and restores below C", async () => {
    const s = await seeded();
    const c = r(s, "r5");
    await compactJournal(s.store, { through: c, ticket: "CHG-7", meta: COMPACT });
    const compacted = (n: number) =>
      validation(new RegExp(`^revision ${n} was compacted \\(history is kept from revision ${c}\\)$`));
    await assert.rejects(stateAt(s.store, c - 1), compacted(c - 1));
    await assert.rejects(stateAt(s.store, 0), compacted(0));
    await assert.rejects(diffRevisions(s.store, r(s, "r2"), r(s, "r7")), compacted(r(s, "r2")));
    await assert.rejects(s.store.getAt("loadBalancer", "web", c - 1), compacted(c - 1));
    await assert.rejects(restore(s.store, { to: c - 1, meta: meta("RestoreState") }), compacted(c - 1));
    const timeOfR4 = (await s.store.revision(r(s, "r4")))?.time ?? "";
    await assert.rejects(
      restore(s.store, { to: { time: timeOfR4 }, meta: meta("RestoreState") }),
      validation(new RegExp(`^time ${timeOfR4} falls at revision ${r(s, "r4")}, which was compacted`)),
    );
  });

  it("restores to C and later", async () => {
    const s = await seeded();
    const c = r(s, "r5");
    const atC = await stateAt(s.store, c);
    await compactJournal(s.store, { through: c, ticket: "CHG-7", meta: COMPACT });

    const one = await restore(s.store, { to: c, loadBalancers: ["web"], meta: meta("RestoreState") });
    assert.ok(one.revision);
    assert.equal((await s.store.get("loadBalancer", "web"))?.doc.scheme, "internal");

    const all = await restore(s.store, { to: c, meta: meta("RestoreState") });
    assert.ok(all.revision);
    const kinds = ["loadBalancer", "instance"] as const;
    assert.equal(stateForm(await stateAt(s.store, await s.store.head()), kinds), stateForm(atC, kinds));
    const time = (await s.store.revision(c))?.time ?? "";
    const byTime = await restore(s.store, { to: { time }, meta: meta("RestoreState") });
    assert.equal(byTime.target, c);
    assert.equal(byTime.revision, undefined, "already at the state of C");
    assert.ok((await verifyJournal(s.store)).ok);
  });

  it("verifies after compaction, and still finds tampering after C", async () => {
    const s = await seeded();
    const c = r(s, "r5");
    await compactJournal(s.store, { through: c, ticket: "CHG-7", meta: COMPACT });
    const report = await verifyJournal(s.store);
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.compactedThrough, c);
    assert.equal(report.linkCheckedOnly, c);
    assert.equal(report.revisionsChecked, 7);

    const db = unguardedConnection(s.file);
    db.prepare(
      "UPDATE versions SET doc = ? WHERE kind = 'loadBalancer' AND key = 'web' AND revision = ?",
    ).run(JSON.stringify(aLoadBalancer({ name: "web", instances: ["i-666"] })), r(s, "r6"));
    db.close();
    const tampered = await verifyJournal(s.store);
    assert.equal(tampered.ok, false);
    assert.deepEqual(
      tampered.divergences.filter((d) => d.type === "hash-mismatch").map((d) => d.revision),
      [r(s, "r6")],
    );
  });

  it("finds a kept version removed at or before C, and a compaction record removed to hide it", async () => {
    const s = await seeded();
    const c = r(s, "r5");
    await compactJournal(s.store, { through: c, ticket: "CHG-7", meta: COMPACT });
    const db = unguardedConnection(s.file);
    // web is written again at r6, so the current state still matches: only the digest of C can tell.
    db.prepare("DELETE FROM versions WHERE key = 'web' AND revision = ?").run(c);
    db.close();
    const report = await verifyJournal(s.store);
    assert.equal(report.ok, false);
    assert.equal(report.firstDivergence?.type, "compaction-mismatch");
    assert.equal(report.firstDivergence?.revision, c);

    const s2 = await seeded();
    await compactJournal(s2.store, { through: c, ticket: "CHG-7", meta: COMPACT });
    const db2 = unguardedConnection(s2.file);
    db2.prepare("DELETE FROM compactions").run();
    db2.close();
    const hidden = await verifyJournal(s2.store);
    assert.equal(hidden.ok, false);
    assert.equal(hidden.firstDivergence?.type, "hash-mismatch");
    assert.ok((hidden.firstDivergence?.revision ?? 99) <= c);
  });

  it("refuses to compact a journal that does not verify", async () => {
    const s = await seeded();
    const db = unguardedConnection(s.file);
    db.prepare("UPDATE revisions SET principal = 'mallory' WHERE number = ?").run(r(s, "r2"));
    db.close();
    const changes = await s.store.changes(0);
    await assert.rejects(
      compactJournal(s.store, { through: r(s, "r5"), ticket: "CHG-7", meta: COMPACT }),
      validation(/does not verify .*revision 2/),
    );
    assert.deepEqual(await s.store.changes(0), changes);
  });

  it("refuses while an agent runs a configuration older than C", async () => {
    const s = await seeded();
    const status = {
      agentId: "agent-a",
      zone: "us-east-1a",
      configRevision: r(s, "r3"),
      nodes: [],
      health: [],
      unexplained: [],
      time: new Date().toISOString(),
    };
    await s.store.putAgentStatus(status);
    await assert.rejects(
      compactJournal(s.store, { through: r(s, "r5"), ticket: "CHG-7", meta: COMPACT }),
      validation(/agent\(s\) agent-a \(zone us-east-1a, version 3\)/),
    );
    await s.store.putAgentStatus({ ...status, configRevision: r(s, "r7") });
    const { compacted } = await compactJournal(s.store, {
      through: r(s, "r5"),
      ticket: "CHG-7",
      meta: COMPACT,
    });
    assert.equal(compacted, true);
  });

  it("exports after compaction, and the export round-trips through a fresh store", async () => {
    const s = await seeded();
    const before = await exportState(s.store);
    await compactJournal(s.store, { through: r(s, "r5"), ticket: "CHG-7", meta: COMPACT });
    const doc = await exportState(s.store);
    // Secret fields are sealed with a fresh IV each time: compare the documents they seal.
    const opened = (d: typeof doc) =>
      d.entities.map((e) => ({ ...e, doc: s.store.codec.open(e.kind, e.key, e.doc) }));
    assert.deepEqual(opened(doc), opened(before));
    assert.equal(doc.revision, before.revision);

    const fresh = await openTempStore();
    open.push(fresh);
    const { revision } = await importState(fresh.store, doc, meta("ImportState"));
    assert.ok(revision);
    assert.deepEqual(opened(await exportState(fresh.store)), opened(doc));
  });
});
