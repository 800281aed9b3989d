/**
 * The store contract, run by every driver in a few lines (see sqlite.test.ts). A driver that
 * passes this suite keeps the journal's promises: numbered revisions, tombstones, history,
 * point-in-time reads, the hash chain, and no lost update under concurrent writers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isBallastError } from "../../src/model/errors.js";
import type { GuardDecision } from "../../src/model/guard.js";
import type { TicketEvent } from "../../src/model/ticket.js";
import { appendOnlyMessage, GENESIS_HASH, revisionHash, stateDigest } from "../../src/store/journal.js";
import type { AuditRecord, EntityVersion, Store } from "../../src/store/store.js";
import { aLoadBalancer, anInstance, meta } from "../support/builders.js";

export interface StoreFactory<S extends Store = Store> {
  /** A fresh, empty store. */
  open(): Promise<S>;
  /** A second handle on the same store (another process's view), when the driver has one. */
  reopen?(): Promise<S>;
  /** One SQL statement on the store's own connection; the number of rows it changed. */
  rawSql(store: S, sql: string): Promise<number>;
  /** Drops the journal's guard triggers, leaving the database as a version without them made it. */
  dropGuard(store: S): Promise<void>;
  /**
   * For a store whose reads catch up with other handles' commits a moment later (a PostgreSQL
   * replica): resolves once `store` has applied everything committed so far. Absent: reads are
   * never behind.
   */
  settle?(store: S): Promise<void>;
}

/** Raw edits of the journal, each with the operation and table the database must name in refusing it. */
const JOURNAL_EDITS: readonly (readonly [sql: string, op: string, table: string])[] = [
  ["UPDATE revisions SET principal = 'mallory' WHERE number = 1", "UPDATE", "revisions"],
  ["DELETE FROM revisions WHERE number = (SELECT max(number) FROM revisions)", "DELETE", "revisions"],
  ["UPDATE versions SET doc = NULL WHERE revision = 1", "UPDATE", "versions"],
  ["DELETE FROM versions WHERE revision = 1", "DELETE", "versions"],
  ["DELETE FROM versions", "DELETE", "versions"],
];

export function storeConformance<S extends Store>(driver: string, factory: StoreFactory<S>): void {
  describe(`store conformance: ${driver}`, () => {
    let store: S;
    /** Every raw edit is refused with the guard's message, and the journal is exactly as it was. */
    const assertRefused = async (
      on: S,
      edits: readonly (readonly [string, string, string])[] = JOURNAL_EDITS,
    ): Promise<void> => {
      const revisions = await on.revisions(0);
      const changes = await on.changes(0);
      const compactions = await on.compactions();
      for (const [sql, op, table] of edits) {
        await assert.rejects(factory.rawSql(on, sql), (e: Error) => {
          assert.ok(e.message.includes(appendOnlyMessage(op, table)), `${sql}: ${e.message}`);
          return true;
        });
      }
      assert.deepEqual(await on.revisions(0), revisions);
      assert.deepEqual(await on.changes(0), changes);
      assert.deepEqual(await on.compactions(), compactions);
    };
    before(async () => {
      store = await factory.open();
    });
    after(async () => {
      await store.close();
    });

    it("starts with an empty journal", async () => {
      assert.equal(await store.head(), 0);
      assert.deepEqual(await store.list("loadBalancer"), []);
    });

    it("appends one revision per mutation with who, where, request id and action", async () => {
      const m = { ...meta("CreateLoadBalancer", "alice"), ticket: "CHG-1" };
      const { revision, result } = await store.mutate(m, async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer());
        tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
        return "done";
      });
      assert.equal(result, "done");
      assert.ok(revision);
      assert.equal(revision.number, 1);
      assert.equal(revision.principal, "alice");
      assert.equal(revision.requestId, m.requestId);
      assert.equal(revision.ticket, "CHG-1");
      assert.equal(revision.prevHash, GENESIS_HASH);
      assert.equal(await store.head(), 1);
      assert.deepEqual((await store.get("loadBalancer", "web"))?.doc, aLoadBalancer());
      const changes = await store.changes(0);
      assert.deepEqual(
        changes.map((c) => [c.kind, c.key, c.revision]),
        [
          ["instance", "i-1", 1],
          ["loadBalancer", "web", 1],
        ],
      );
    });

    it("appends no revision for a mutation that changes nothing", async () => {
      const head = await store.head();
      const { revision } = await store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer());
      });
      assert.equal(revision, undefined);
      assert.equal(await store.head(), head);
    });

    it("reads its own pending writes inside a mutation", async () => {
      await store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "api", aLoadBalancer({ name: "api" }));
        assert.equal((await tx.get("loadBalancer", "api"))?.name, "api");
        assert.deepEqual(
          (await tx.list("loadBalancer")).map((l) => l.name),
          ["api", "web"],
        );
        tx.delete("loadBalancer", "api");
        assert.equal(await tx.get("loadBalancer", "api"), undefined);
      });
      assert.equal(await store.get("loadBalancer", "api"), undefined);
    });

    it("keeps a tombstone on delete, and the full history of the entity", async () => {
      const r2 = await store.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer({ instances: ["i-1"] }));
      });
      const r3 = await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
        tx.delete("loadBalancer", "web");
      });
      assert.ok(r2.revision && r3.revision);
      assert.equal(await store.get("loadBalancer", "web"), undefined);
      const history = await store.history("loadBalancer", "web");
      assert.deepEqual(
        history.map((v) => [v.revision, v.doc === null]),
        [
          [1, false],
          [r2.revision.number, false],
          [r3.revision.number, true],
        ],
      );
      assert.deepEqual((await store.getAt("loadBalancer", "web", r2.revision.number))?.doc.instances, [
        "i-1",
      ]);
      assert.equal(await store.getAt("loadBalancer", "web", r3.revision.number), undefined);
      assert.equal(await store.getAt("loadBalancer", "web", 0), undefined);
    });

    it("stores any text exactly, in documents and in who made the change", async () => {
      const odd = `it's "quoted" \\ back\\slashed, {braced}, NULL, comma, \u00e9\u{1F600}, E'x'`;
      const m = { ...meta("CreateLoadBalancer"), principal: odd, requestId: `req ${odd}` };
      const r = await store.mutate(m, async (tx) => {
        tx.put("loadBalancer", "odd", aLoadBalancer({ name: "odd", instances: [odd, "NULL", ""] }));
      });
      assert.ok(r.revision);
      assert.deepEqual((await store.get("loadBalancer", "odd"))?.doc.instances, [odd, "NULL", ""]);
      const stored = await store.revision(r.revision.number);
      assert.equal(stored?.principal, odd);
      assert.equal(stored?.requestId, `req ${odd}`);
      assert.equal(stored?.hash, r.revision.hash);
      await store.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "odd"));
    });

    it("counts the current entities of a kind, as listing them would", async () => {
      const before = await store.count("loadBalancer");
      assert.equal(before, (await store.list("loadBalancer")).length);
      await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "count-a", aLoadBalancer({ name: "count-a" }));
        tx.put("loadBalancer", "count-b", aLoadBalancer({ name: "count-b" }));
      });
      assert.equal(await store.count("loadBalancer"), before + 2);
      await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
        tx.delete("loadBalancer", "count-a");
        tx.delete("loadBalancer", "count-b");
      });
      assert.equal(await store.count("loadBalancer"), before);
      assert.equal(await store.count("certificate"), (await store.list("certificate")).length);
    });

    it("chains every revision to the one before by hash", async () => {
      const all = await store.revisions(0);
      assert.ok(all.length >= 3);
      let prev = GENESIS_HASH;
      for (const r of all) {
        assert.equal(r.prevHash, prev);
        const changes = (await store.changes(r.number - 1, r.number)).map((c) => ({
          kind: c.kind,
          key: c.key,
          doc: c.doc,
        }));
        assert.equal(revisionHash(r.prevHash, r.number, r.time, r, changes), r.hash);
        prev = r.hash;
      }
    });

    it("loses no update when writers race on the same entity", async () => {
      await store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "race", aLoadBalancer({ name: "race" }));
      });
      const other = factory.reopen ? await factory.reopen() : store;
      const writers = Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
          const lb = await tx.get("loadBalancer", "race");
          assert.ok(lb);
          await new Promise((r) => setTimeout(r, 1));
          tx.put("loadBalancer", "race", { ...lb, instances: [...lb.instances, `i-${i}`] });
        }),
      );
      await Promise.all(writers);
      await factory.settle?.(store);
      const lb = await store.get("loadBalancer", "race");
      assert.equal(lb?.doc.instances.length, 20);
      if (other !== store) await other.close();
    });

    it("notifies commit listeners with the new revision", async () => {
      await factory.settle?.(store);
      const seen: number[] = [];
      const off = store.onCommit((r) => seen.push(r.number));
      const { revision } = await store.mutate(meta(), async (tx) => {
        tx.put("instance", "i-2", anInstance({ instanceId: "i-2" }));
      });
      off();
      assert.deepEqual(seen, [revision?.number]);
    });

    it("reports the entities that differ from a past revision, in one bulk read", async () => {
      const { revision: base } = await store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "diff-a", aLoadBalancer({ name: "diff-a" }));
        tx.put("loadBalancer", "diff-b", aLoadBalancer({ name: "diff-b" }));
        tx.put("instance", "i-diff", anInstance({ instanceId: "i-diff" }));
      });
      assert.ok(base);
      await store.mutate(meta(), async (tx) => {
        tx.delete("loadBalancer", "diff-a");
        tx.put("loadBalancer", "diff-b", aLoadBalancer({ name: "diff-b", instances: ["i-diff"] }));
        tx.put("loadBalancer", "diff-c", aLoadBalancer({ name: "diff-c" }));
        tx.put("instance", "i-diff", anInstance({ instanceId: "i-diff", address: "10.9.9.9" }));
      });
      // Changed and changed back: the same bytes as at the base revision, so no difference.
      await store.mutate(meta(), async (tx) => {
        tx.put("instance", "i-diff", anInstance({ instanceId: "i-diff" }));
      });
      let seen: { kind: string; key: string; past: unknown; now: unknown }[] = [];
      await store.mutate(meta(), async (tx) => {
        assert.ok(tx.differencesFrom, "the driver implements differencesFrom");
        seen = [...(await tx.differencesFrom(base.number, ["loadBalancer"]))]
          .filter((d) => d.key.startsWith("diff-"))
          .sort((a, b) => (a.key < b.key ? -1 : 1));
        const inventory = await tx.differencesFrom(base.number, ["instance"]);
        assert.deepEqual(
          inventory.filter((d) => d.key === "i-diff"),
          [],
        );
      });
      assert.deepEqual(
        seen.map((d) => [d.kind, d.key, d.past === undefined, d.now === undefined]),
        [
          ["loadBalancer", "diff-a", false, true],
          ["loadBalancer", "diff-b", false, false],
          ["loadBalancer", "diff-c", true, false],
        ],
      );
      assert.deepEqual(seen[1]?.past, aLoadBalancer({ name: "diff-b" }));
      assert.deepEqual(seen[1]?.now, aLoadBalancer({ name: "diff-b", instances: ["i-diff"] }));
    });

    it("runs a mutation again when a commit lands after its differencesFrom read", async () => {
      const other = factory.reopen ? await factory.reopen() : store;
      const head = await store.head();
      let runs = 0;
      let interloper: Promise<{ revision?: { number: number } }> | undefined;
      const { revision } = await store.mutate(meta(), async (tx) => {
        runs++;
        const seen = await tx.differencesFrom?.(head, ["loadBalancer"]);
        assert.ok(seen, "the driver implements differencesFrom");
        if (runs === 1) {
          // Another writer tries to commit between the read and this mutation's commit. A driver
          // that locks (PostgreSQL) makes it wait; one that checks at commit (SQLite) runs again.
          interloper = other.mutate(meta(), async (o) => {
            o.put("instance", "i-interloper", anInstance({ instanceId: "i-interloper" }));
          });
          await new Promise((r) => setTimeout(r, 50));
        }
        tx.put("loadBalancer", "after-read", aLoadBalancer({ name: "after-read" }));
      });
      const theirs = await interloper;
      if (other !== store) await other.close();
      assert.ok(revision && theirs?.revision);
      if (theirs.revision.number < revision.number) assert.equal(runs, 2, "re-ran after the interloper");
      else assert.equal(runs, 1);
    });

    it("keeps the latest status per agent outside the journal", async () => {
      const head = await store.head();
      const status = {
        agentId: "agent-a",
        zone: "us-east-1a",
        configRevision: 3,
        nodes: [],
        health: [],
        unexplained: [],
        time: new Date().toISOString(),
      };
      await store.putAgentStatus(status);
      assert.deepEqual(
        (await store.agentStatuses()).map((s) => s.configRevision),
        [3],
      );
      // Read once (and kept, where the store keeps it), then written again: the new one is read.
      await store.putAgentStatus({ ...status, configRevision: 4 });
      assert.deepEqual(
        (await store.agentStatuses()).map((s) => s.configRevision),
        [4],
      );
      assert.equal(await store.head(), head);
    });

    it("refuses UPDATE and DELETE of the journal in the database itself, and changes nothing", async () => {
      assert.ok((await store.head()) >= 2);
      await assertRefused(store);
      // `current` is derived and rewritten by every mutation: it is not a journal table.
      assert.ok((await factory.rawSql(store, "UPDATE current SET revision = revision")) > 0);
      // A mutation still appends through the guard.
      const { revision } = await store.mutate(meta(), async (tx) => {
        tx.put("instance", "i-guard", anInstance({ instanceId: "i-guard" }));
      });
      assert.ok(revision);
    });

    it("puts the guard on a database made before it, when it opens it (idempotently)", async () => {
      assert.ok(factory.reopen, "the driver can open a second handle");
      await factory.dropGuard(store);
      assert.equal(
        await factory.rawSql(store, "UPDATE revisions SET principal = principal WHERE number = 1"),
        1,
      );
      const first = await factory.reopen();
      const second = await factory.reopen();
      try {
        await assertRefused(first);
        await assertRefused(second);
        await assertRefused(store);
      } finally {
        await first.close();
        await second.close();
      }
    });

    it("appends audit records in order and reads them back filtered, newest first", async () => {
      const rec = (i: number, over: Partial<AuditRecord> = {}): AuditRecord => ({
        time: `2026-01-01T00:00:${String(i).padStart(2, "0")}.000Z`,
        principal: "arn:aws:iam::000000000000:user/alice",
        accessKeyId: "AKIAALICE",
        action: "elasticloadbalancing:DescribeLoadBalancers",
        resource: "*",
        sourceIp: "127.0.0.1",
        requestId: `req-${i}`,
        result: "allowed",
        count: 1,
        ...over,
      });
      await store.appendAudit([]);
      await store.appendAudit([
        rec(1),
        rec(2, { action: "elasticloadbalancing:CreateLoadBalancer", result: "denied", ticket: "CHG-7" }),
        rec(3, { principal: "anonymous", accessKeyId: undefined, result: "InvalidClientTokenId", count: 42 }),
      ]);
      await store.appendAudit([
        rec(4, { principal: "arn:aws:iam::000000000000:user/bob", accessKeyId: "AKIABOB" }),
      ]);
      const all = await store.audit();
      assert.deepEqual(
        all.map((r) => r.requestId),
        ["req-4", "req-3", "req-2", "req-1"],
      );
      assert.ok((all[0]?.id ?? 0) > (all[1]?.id ?? 0));
      const denied = all.find((r) => r.requestId === "req-2");
      assert.equal(denied?.ticket, "CHG-7");
      assert.equal(all.find((r) => r.requestId === "req-3")?.count, 42);
      assert.equal(all.find((r) => r.requestId === "req-3")?.accessKeyId, undefined);
      const ids = async (f: Parameters<Store["audit"]>[0]) => (await store.audit(f)).map((r) => r.requestId);
      assert.deepEqual(await ids({ principal: "alice" }), ["req-2", "req-1"]);
      assert.deepEqual(await ids({ principal: "AKIABOB" }), ["req-4"]);
      assert.deepEqual(await ids({ principal: "anonymous" }), ["req-3"]);
      assert.deepEqual(await ids({ result: "denied" }), ["req-2"]);
      assert.deepEqual(await ids({ action: "CreateLoadBalancer" }), ["req-2"]);
      assert.deepEqual(await ids({ action: "elasticloadbalancing:DescribeLoadBalancers" }), [
        "req-4",
        "req-3",
        "req-1",
      ]);
      assert.deepEqual(await ids({ since: "2026-01-01T00:00:03.000Z" }), ["req-4", "req-3"]);
      assert.deepEqual(await ids({ limit: 2 }), ["req-4", "req-3"]);
      assert.deepEqual(await ids({ limit: 2, before: all[1]?.id ?? 0 }), ["req-2", "req-1"]);
      await assert.rejects(store.audit({ limit: 0 }), /limit/);
    });

    it("refuses UPDATE and DELETE of the audit log in the database itself", async () => {
      const before = await store.audit({ limit: 10_000 });
      assert.ok(before.length > 0);
      for (const [sql, op] of [
        ["UPDATE audit SET result = 'allowed'", "UPDATE"],
        ["DELETE FROM audit", "DELETE"],
      ] as const)
        await assert.rejects(factory.rawSql(store, sql), (e: Error) =>
          e.message.includes(appendOnlyMessage(op, "audit")),
        );
      assert.deepEqual(await store.audit({ limit: 10_000 }), before);
    });

    it("keeps change tickets' events in order, per ticket, and refuses to edit or delete them", async () => {
      const a = "tkt-00000000000000a1";
      const b = "tkt-00000000000000b2";
      const base = { time: "2026-12-24T12:00:00.000Z", region: "us-east-1", durationMinutes: 60 };
      const events: TicketEvent[] = [
        {
          ...base,
          kind: "opened",
          ticket: a,
          principal: "alice",
          operations: ["ballast:RestoreState"],
          loadBalancers: ["*"],
          reason: "ünïcode ✓",
        },
        {
          ...base,
          kind: "opened",
          ticket: b,
          principal: "carol",
          operations: ["ballast:ImportState"],
          loadBalancers: ["web-*"],
          reason: "b",
        },
        { kind: "approved", ticket: a, time: "2026-12-24T12:01:00.000Z", principal: "bob", comment: "ok" },
        {
          kind: "used",
          ticket: a,
          time: "2026-12-24T12:02:00.000Z",
          principal: "alice",
          action: "ballast:RestoreState",
          requestId: "r-1",
        },
      ];
      for (const e of events) await store.appendTicketEvent(e);
      assert.deepEqual(await store.ticketEvents(a), [events[0], events[2], events[3]]);
      assert.deepEqual(await store.ticketEvents(b), [events[1]]);
      assert.deepEqual(await store.ticketEvents(), events);
      assert.deepEqual(await store.ticketEvents("tkt-ffffffffffffffff"), []);
      for (const [sql, op] of [
        ["UPDATE ticket_events SET principal = 'alice' WHERE kind = 'approved'", "UPDATE"],
        ["DELETE FROM ticket_events WHERE kind = 'approved'", "DELETE"],
      ] as const)
        await assert.rejects(factory.rawSql(store, sql), (e: Error) =>
          e.message.includes(appendOnlyMessage(op, "ticket_events")),
        );
      assert.deepEqual(await store.ticketEvents(), events);
    });

    it("keeps decisions on guard holds, for a restarted or other control plane, and refuses to edit them", async () => {
      const decisions: GuardDecision[] = [
        {
          time: "2026-12-24T12:00:00.000Z",
          zone: "us-east-1a",
          decision: "released",
          throughRevision: 7,
          principal: "alice",
          ticket: "tkt-00000000000000a1",
        },
        {
          time: "2026-12-24T12:05:00.000Z",
          zone: "us-east-1b",
          decision: "discarded",
          throughRevision: 9,
          principal: "bob",
          breakGlass: "pager: zone b wiped",
        },
      ];
      for (const d of decisions) await store.appendGuardDecision(d);
      assert.deepEqual(await store.guardDecisions(), decisions);
      if (factory.reopen) {
        const other = await factory.reopen();
        try {
          assert.deepEqual(await other.guardDecisions(), decisions);
        } finally {
          await other.close();
        }
      }
      for (const [sql, op] of [
        ["UPDATE guard_decisions SET decision = 'released'", "UPDATE"],
        ["DELETE FROM guard_decisions", "DELETE"],
      ] as const)
        await assert.rejects(factory.rawSql(store, sql), (e: Error) =>
          e.message.includes(appendOnlyMessage(op, "guard_decisions")),
        );
      assert.deepEqual(await store.guardDecisions(), decisions);
    });

    it("marks break-glass calls in the audit log and finds them", async () => {
      await store.appendAudit([
        {
          time: "2026-12-24T13:00:00.000Z",
          principal: "arn:aws:iam::000000000000:user/alice",
          action: "ballast:RestoreState",
          resource: "*",
          sourceIp: "127.0.0.1",
          requestId: "glass-1",
          result: "allowed",
          breakGlass: "journal wiped, approver unreachable",
          count: 1,
        },
      ]);
      const found = await store.audit({ breakGlass: true });
      assert.deepEqual(
        found.map((r) => [r.requestId, r.breakGlass]),
        [["glass-1", "journal wiped, approver unreachable"]],
      );
      assert.equal(
        (await store.audit({ limit: 10_000 })).filter((r) => r.breakGlass !== undefined).length,
        1,
      );
    });

    // Compaction changes what every earlier case reads, so these cases come last.
    describe("compaction", () => {
      const rev: Record<string, number> = {};
      let before: { revisions: unknown; after: readonly EntityVersion[]; atC: string; head: number };
      const step = async (name: string, fn: Parameters<Store["mutate"]>[1]): Promise<void> => {
        const { revision } = await store.mutate(meta(), fn);
        assert.ok(revision, name);
        rev[name] = revision.number;
      };
      const c = (): number => rev.c ?? -1;

      it("removes the superseded versions at or before C and keeps the state at C", async () => {
        await step("a", async (tx) => {
          tx.put("loadBalancer", "cmp-web", aLoadBalancer({ name: "cmp-web" }));
          tx.put("loadBalancer", "cmp-old", aLoadBalancer({ name: "cmp-old" }));
          tx.put("loadBalancer", "cmp-back", aLoadBalancer({ name: "cmp-back" }));
        });
        await step("b", async (tx) => {
          tx.put("loadBalancer", "cmp-web", aLoadBalancer({ name: "cmp-web", instances: ["i-1"] }));
          tx.delete("loadBalancer", "cmp-old");
          tx.delete("loadBalancer", "cmp-back");
        });
        await step("c", async (tx) => {
          tx.put("loadBalancer", "cmp-web", aLoadBalancer({ name: "cmp-web", instances: ["i-1", "i-2"] }));
        });
        await step("d", async (tx) => {
          tx.put("loadBalancer", "cmp-web", aLoadBalancer({ name: "cmp-web", instances: [] }));
          tx.put("loadBalancer", "cmp-back", aLoadBalancer({ name: "cmp-back", scheme: "internal" }));
        });
        const head = await store.head();
        before = {
          revisions: await store.revisions(0),
          after: await store.changes(c()),
          atC: stateDigest(replay(await store.changes(0, c()))),
          head,
        };

        const m = { ...meta("CompactJournal", "carol"), ticket: "CHG-42" };
        const record = await store.compact(c(), m);
        assert.ok(record);
        assert.equal(record.through, c());
        assert.equal(record.principal, "carol");
        assert.equal(record.ticket, "CHG-42");
        assert.equal(record.requestId, m.requestId);
        assert.equal(record.throughHash, (await store.revision(c()))?.hash);
        assert.equal(record.stateHash, before.atC);
        // cmp-web a, b; cmp-old a and its tombstone; cmp-back a (its tombstone has a later version).
        assert.ok(record.versionsRemoved >= 5, `removed ${record.versionsRemoved}`);
        assert.equal(await store.compactedThrough(), c());
        assert.deepEqual(await store.compactions(), [record]);

        assert.deepEqual(
          (await store.history("loadBalancer", "cmp-web")).map((v) => v.revision),
          [c(), rev.d],
        );
        assert.deepEqual(await store.history("loadBalancer", "cmp-old"), []);
        assert.deepEqual(
          (await store.history("loadBalancer", "cmp-back")).map((v) => [v.revision, v.doc === null]),
          [
            [rev.b, true],
            [rev.d, false],
          ],
        );
        assert.equal(stateDigest(replay(await store.changes(0, c()))), before.atC);
      });

      it("keeps every revision row and everything after C", async () => {
        assert.deepEqual(await store.revisions(0), before.revisions);
        assert.deepEqual(await store.changes(c()), before.after);
        let prev = GENESIS_HASH;
        for (const r of await store.revisions(0)) {
          assert.equal(r.prevHash, prev, `link of revision ${r.number}`);
          if (r.number > c()) {
            const changes = (await store.changes(r.number - 1, r.number)).map((v) => ({
              kind: v.kind,
              key: v.key,
              doc: v.doc,
            }));
            assert.equal(revisionHash(r.prevHash, r.number, r.time, r, changes), r.hash);
          }
          prev = r.hash;
        }
      });

      it("reads at C and later as before, and refuses reads below C", async () => {
        assert.deepEqual((await store.getAt("loadBalancer", "cmp-web", c()))?.doc.instances, ["i-1", "i-2"]);
        assert.equal(await store.getAt("loadBalancer", "cmp-old", c()), undefined);
        assert.equal(await store.getAt("loadBalancer", "cmp-back", c()), undefined);
        assert.equal((await store.getAt("loadBalancer", "cmp-back", before.head))?.doc.scheme, "internal");
        await assert.rejects(
          store.getAt("loadBalancer", "cmp-web", c() - 1),
          (e: unknown) =>
            isBallastError(e) &&
            e.code === "ValidationError" &&
            e.message === `revision ${c() - 1} was compacted (history is kept from revision ${c()})`,
        );
      });

      it("is a no-op through a revision already compacted, and refuses one that does not exist", async () => {
        const records = await store.compactions();
        assert.equal(await store.compact(c(), meta("CompactJournal")), undefined);
        assert.equal(await store.compact(c() - 1, meta("CompactJournal")), undefined);
        assert.deepEqual(await store.compactions(), records);
        const head = await store.head();
        for (const bad of [0, head + 1, 1.5]) {
          await assert.rejects(store.compact(bad, meta("CompactJournal")), (e: unknown) => {
            return isBallastError(e) && e.code === "ValidationError";
          });
        }
      });

      it("appends revisions after a compaction and compacts further later", async () => {
        await step("e", async (tx) => {
          tx.put("loadBalancer", "cmp-web", aLoadBalancer({ name: "cmp-web", instances: ["i-9"] }));
        });
        const record = await store.compact(rev.e ?? -1, meta("CompactJournal"));
        assert.ok(record);
        assert.deepEqual(
          (await store.compactions()).map((r) => r.through),
          [c(), rev.e],
        );
        assert.equal(await store.compactedThrough(), rev.e);
        assert.deepEqual(
          (await store.history("loadBalancer", "cmp-web")).map((v) => v.revision),
          [rev.e],
        );
        assert.deepEqual((await store.get("loadBalancer", "cmp-web"))?.doc.instances, ["i-9"]);
      });

      it("lifts the guard only inside its own transaction: afterwards the journal refuses edits again", async () => {
        await assertRefused(store, [
          ...JOURNAL_EDITS,
          [`DELETE FROM versions WHERE revision <= ${c()}`, "DELETE", "versions"],
          ["UPDATE compactions SET ticket = 'CHG-forged'", "UPDATE", "compactions"],
          ["DELETE FROM compactions", "DELETE", "compactions"],
        ]);
      });
    });
  });
}

/** The live entities after applying `versions` in order, as `stateDigest` entries. */
function replay(versions: readonly EntityVersion[]) {
  const state = new Map<string, { kind: string; key: string; revision: number; doc: unknown }>();
  for (const v of versions) {
    const id = `${v.kind}\u0000${v.key}`;
    if (v.doc === null) state.delete(id);
    else state.set(id, { kind: v.kind, key: v.key, revision: v.revision, doc: v.doc });
  }
  return state.values();
}
