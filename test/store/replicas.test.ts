/**
 * Control-plane replicas on one real PostgreSQL server, in one test process on separate pools:
 * the in-memory state each keeps fresh through LISTEN/NOTIFY, read-your-writes, group commit
 * (one transaction for a burst, one revision per mutation, a bad mutation failing alone), and
 * the controller lock (exactly one active; a lost lock connection makes it a standby at once).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { BallastError } from "../../src/model/errors.js";
import { APPEND_ONLY_TABLES } from "../../src/store/journal.js";
import { repairCurrentState } from "../../src/store/ops/repair-current.js";
import { verifyJournal } from "../../src/store/ops/verify.js";
import { ControllerLock } from "../../src/store/postgres/controller-lock.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { ReplicaStore } from "../../src/store/postgres/replica-store.js";
import { createLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { storeConformance } from "./conformance.js";

const logger = createLogger({}, "error");
let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function replicaPair(schema: string): Promise<[ReplicaStore, ReplicaStore]> {
  const a = await ReplicaStore.open(await PostgresStore.open(server.url, { schema }), { logger });
  const b = await ReplicaStore.open(await PostgresStore.open(server.url, { schema }), { logger });
  return [a, b];
}

/** Resolves when `check` holds, tested on every revision `store` applies; rejects after `ms`. */
function seenWithin(store: ReplicaStore, check: () => Promise<boolean>, ms: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`not seen within ${ms} ms`));
    }, ms);
    const test = (): void => {
      check().then((ok) => {
        if (!ok) return;
        clearTimeout(timer);
        off();
        resolve(performance.now() - t0);
      }, reject);
    };
    const off = store.onCommit(test);
  });
}

/** Polls `check` every 5 ms until it holds; fails after 5 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

describe("postgres replicas", () => {
  it("reads a write made through replica A from replica B after the notification, and its own at once", async () => {
    const [a, b] = await replicaPair("read_through");
    try {
      // The wait starts before the write: B has not seen it yet.
      assert.equal(await b.get("loadBalancer", "web"), undefined);
      const seen = seenWithin(b, async () => (await b.get("loadBalancer", "web")) !== undefined, 5000);
      const { revision } = await a.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer());
      });
      assert.ok(revision);
      // Read-your-writes: A answers from memory with no wait at all.
      assert.equal((await a.get("loadBalancer", "web"))?.revision, revision.number);
      assert.equal(await a.head(), revision.number);
      const ms = await seen;
      assert.equal((await b.get("loadBalancer", "web"))?.revision, revision.number);
      assert.equal(await b.head(), revision.number);
      // B applied it from the journal incrementally, not by reloading everything.
      assert.equal(b.syncStats.reloads, 1, "only the load at open");
      assert.ok(b.syncStats.applied >= 1);
      process.stderr.write(`# replica B saw A's write ${ms.toFixed(1)} ms after it began\n`);

      // A delete through B disappears from A's listing too.
      const gone = seenWithin(a, async () => (await a.list("loadBalancer")).length === 0, 5000);
      await b.mutate(meta("DeleteLoadBalancer"), async (tx) => {
        tx.delete("loadBalancer", "web");
      });
      assert.deepEqual(await b.list("loadBalancer"), []);
      await gone;
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("pushes config to an agent long-polling replica B when replica A writes", async () => {
    const [a, b] = await replicaPair("push");
    const channel = new AgentChannel({ store: b, token: "t0ken", zones: ["us-east-1a"], logger });
    try {
      const port = await channel.listen(0, "127.0.0.1");
      const have = await b.head();
      // The long poll is waiting on B before A writes.
      const t0 = performance.now();
      const polled = fetch(`http://127.0.0.1:${port}/agent/v1/config?zone=us-east-1a&have=${have}&wait=20`, {
        headers: { authorization: "Bearer t0ken" },
      });
      await new Promise((r) => setTimeout(r, 100));
      const { revision } = await a.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put(
          "loadBalancer",
          "pushed",
          aLoadBalancer({ name: "pushed", availabilityZones: ["us-east-1a"] }),
        );
      });
      const res = await polled;
      assert.equal(res.status, 200);
      const doc = (await res.json()) as AgentConfig;
      assert.equal(doc.revision, revision?.number);
      assert.deepEqual(
        doc.loadBalancers.map((l) => l.name),
        ["pushed"],
      );
      process.stderr.write(
        `# agent on B got A's write after ${(performance.now() - t0 - 100).toFixed(0)} ms\n`,
      );
    } finally {
      await channel.close();
      await a.close();
      await b.close();
    }
  });

  it("reloads the whole state after losing its notification connection", async () => {
    const [a, b] = await replicaPair("lost_listener");
    try {
      const reloaded = seenWithin(
        b,
        async () => (await b.get("loadBalancer", "missed")) !== undefined,
        10_000,
      );
      // Cut B's LISTEN session (both replicas listen, in one process: cut them all, A reconnects too).
      const cut = await sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'br:lost_listener'",
      );
      assert.equal(cut.rowCount, 2);
      await a.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "missed", aLoadBalancer({ name: "missed" }));
      });
      await reloaded;
      assert.ok(b.syncStats.reloads >= 2, `reloaded after reconnecting (${b.syncStats.reloads})`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("commits 64 concurrent mutations in fewer transactions, each its own revision; a bad one fails alone", async () => {
    const db = await PostgresStore.open(server.url, { schema: "group_commit" });
    const replica = await ReplicaStore.open(db, { logger });
    try {
      const before = db.commitStats;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 64 }, (_, i) =>
          replica.mutate(meta("CreateLoadBalancer", `p${i}`), async (tx) => {
            if (i === 17) throw new BallastError("ValidationError", "mutation 17 is refused");
            tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
            return i;
          }),
        ),
      );
      const failed = outcomes.flatMap((o, i) =>
        o.status === "rejected" ? [{ i, e: o.reason as Error }] : [],
      );
      assert.deepEqual(
        failed.map((f) => [f.i, f.e.message]),
        [[17, "mutation 17 is refused"]],
      );
      const numbers = outcomes.flatMap((o) =>
        o.status === "fulfilled" ? [o.value.revision?.number ?? 0] : [],
      );
      assert.deepEqual(
        [...numbers].sort((x, y) => x - y),
        Array.from({ length: 63 }, (_, i) => i + 1),
        "63 distinct consecutive revisions",
      );
      const transactions = db.commitStats.transactions - before.transactions;
      assert.equal(db.commitStats.revisions - before.revisions, 63);
      assert.ok(transactions < 63, `63 revisions in ${transactions} transactions`);
      process.stderr.write(`# group commit: 63 revisions in ${transactions} transaction(s)\n`);
      // Each revision names its own caller, and the chain verifies from the stored rows.
      const revisions = await db.revisions(0);
      assert.equal(new Set(revisions.map((r) => r.principal)).size, 63);
      assert.ok(!revisions.some((r) => r.principal === "p17"));
      const report = await verifyJournal(db, { maxDivergences: 10 });
      assert.equal(report.ok, true, JSON.stringify(report.divergences));
      assert.equal((await replica.list("loadBalancer")).length, 63);
    } finally {
      await replica.close();
    }
  });

  it("reads the replica's memory in a batch: each mutation sees the ones before it, the stored rows agree", async () => {
    const db = await PostgresStore.open(server.url, { schema: "memory_reads" });
    const replica = await ReplicaStore.open(db, { logger });
    const other = await ReplicaStore.open(await PostgresStore.open(server.url, { schema: "memory_reads" }), {
      logger,
    });
    try {
      await other.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "shared", aLoadBalancer({ name: "shared" }));
      });
      // Written through the other replica: this one reads it from the journal before its batch.
      await until(async () => (await replica.head()) === 1);
      const before = db.commitStats;
      await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          replica.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
            const lb = await tx.get("loadBalancer", "shared");
            assert.ok(lb);
            tx.put("loadBalancer", "shared", { ...lb, instances: [...lb.instances, `i-${i}`] });
          }),
        ),
      );
      const stats = db.commitStats;
      assert.ok(stats.fromMemory > before.fromMemory, "the batches read memory");
      const mine = await replica.get("loadBalancer", "shared");
      assert.deepEqual(
        mine?.doc.instances,
        Array.from({ length: 64 }, (_, i) => `i-${i}`),
        "no update lost, in order",
      );
      // The database's own rows say the same, and the chain verifies.
      assert.deepEqual((await db.list("loadBalancer"))[0]?.doc, mine?.doc);
      assert.equal((await verifyJournal(db, { maxDivergences: 10 })).ok, true);
      // And the other replica catches up to the same document.
      await until(async () => (await other.head()) === 65);
      assert.deepEqual((await other.get("loadBalancer", "shared"))?.doc, mine?.doc);
    } finally {
      await replica.close();
      await other.close();
    }
  });

  it("appends a batch read from memory in one statement: a delete then a re-create of one key, and a differencesFrom that sees the batch's earlier revisions", async () => {
    const db = await PostgresStore.open(server.url, { schema: "memory_append" });
    const replica = await ReplicaStore.open(db, { logger });
    try {
      await replica.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "gone", aLoadBalancer({ name: "gone" }));
        tx.put("loadBalancer", "kept", aLoadBalancer({ name: "kept" }));
      });
      const before = db.commitStats;
      let seen: readonly string[] = [];
      const jobs = [
        replica.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "gone")),
        replica.mutate(meta("CreateLoadBalancer"), async (tx) => {
          tx.put("loadBalancer", "fresh", aLoadBalancer({ name: "fresh" }));
        }),
        replica.mutate(meta("CreateLoadBalancer"), async (tx) => {
          tx.put("loadBalancer", "gone", aLoadBalancer({ name: "gone", instances: ["i-back"] }));
        }),
        // Asks the database what differs from revision 1: it must see the three revisions above.
        replica.mutate(meta("Diff"), async (tx) => {
          seen = (await tx.differencesFrom?.(1, ["loadBalancer"]))?.map((d) => d.key).sort() ?? [];
        }),
        replica.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "kept")),
      ];
      const outcomes = await Promise.all(jobs);
      assert.deepEqual(
        outcomes.map((o) => o.revision?.number),
        [2, 3, 4, undefined, 5],
        "each change its own revision, in order",
      );
      assert.deepEqual(seen, ["fresh", "gone"]);
      assert.ok(db.commitStats.fromMemory > before.fromMemory, "the batch read memory");
      // The stored rows: `current` holds each key's last write, the versions every one.
      assert.deepEqual(
        (await db.list("loadBalancer")).map((c) => [c.doc.name, c.revision, c.doc.instances]),
        [
          ["fresh", 3, []],
          ["gone", 4, ["i-back"]],
        ],
      );
      assert.deepEqual(
        (await db.history("loadBalancer", "gone")).map((v) => [v.revision, v.doc === null]),
        [
          [1, false],
          [2, true],
          [4, false],
        ],
      );
      assert.deepEqual(
        (await replica.list("loadBalancer")).map((c) => c.doc),
        (await db.list("loadBalancer")).map((c) => c.doc),
      );
      assert.equal((await verifyJournal(db, { maxDivergences: 10 })).ok, true);
    } finally {
      await replica.close();
    }
  });

  it("verifies the journal while writers keep committing, from one snapshot of the current state, and still finds state deleted behind its back", async () => {
    const db = await PostgresStore.open(server.url, { schema: "verify_busy" });
    const replica = await ReplicaStore.open(db, { logger });
    try {
      await replica.mutate(meta("CreateLoadBalancer"), async (tx) => {
        for (let i = 0; i < 50; i++) tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
      });
      let writing = true;
      let written = 0;
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; writing; i++) {
          await replica.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
            tx.put("loadBalancer", `lb-${w}`, aLoadBalancer({ name: `lb-${w}`, instances: [`i-${i}`] }));
          });
          written++;
        }
      });
      const during: number[] = [];
      try {
        while (written < 200) await new Promise((r) => setTimeout(r, 5));
        for (let round = 0; round < 3; round++) {
          const from = await db.head();
          const report = await verifyJournal(db, { maxDivergences: 10 });
          assert.equal(report.ok, true, JSON.stringify(report.divergences));
          assert.ok(report.head >= from, `verified at ${report.head}, the head was ${from} before`);
          during.push(report.head);
        }
      } finally {
        writing = false;
        await Promise.all(writers);
      }
      assert.ok((await db.head()) > (during[0] ?? 0), "writes went on during the checks");
      // Deleted behind the journal's back, as in December 2012: the snapshot shows it missing.
      await sql(`DELETE FROM verify_busy.current WHERE kind = 'loadBalancer' AND key = 'lb-40'`);
      const damaged = await verifyJournal(db, { maxDivergences: 10 });
      assert.equal(damaged.ok, false);
      assert.match(JSON.stringify(damaged.divergences), /lb-40/);
    } finally {
      await replica.close();
    }
  });

  it("repairs a current row deleted behind its back although its memory still holds the row", async () => {
    const db = await PostgresStore.open(server.url, { schema: "repair_behind" });
    const replica = await ReplicaStore.open(db, { logger });
    try {
      await replica.mutate(meta("CreateLoadBalancer"), async (tx) => {
        for (let i = 0; i < 3; i++) tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
      });
      await sql(`DELETE FROM repair_behind.current WHERE kind = 'loadBalancer' AND key = 'lb-1'`);
      assert.ok(await replica.get("loadBalancer", "lb-1"), "the replica's memory still has it");
      const damaged = await verifyJournal(db, { maxDivergences: 10 });
      assert.equal(damaged.ok, false);
      // Compared against memory the put would be "no change" and write nothing.
      const repaired = await repairCurrentState(
        replica,
        [{ kind: "loadBalancer", key: "lb-1" }],
        meta("RepairCurrentState"),
      );
      assert.ok(repaired, "the repair wrote a revision");
      const rows = await sql(
        `SELECT revision FROM repair_behind.current WHERE kind = 'loadBalancer' AND key = 'lb-1'`,
      );
      assert.equal(rows.rows.length, 1, "the row is back in the database");
      assert.equal((await verifyJournal(db, { maxDivergences: 10 })).ok, true);
    } finally {
      await replica.close();
    }
  });

  it("answers an entity's history from memory until a version of it is applied, whichever replica wrote it", async () => {
    const [a, b] = await replicaPair("history_cache");
    try {
      await a.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
      });
      const reads = a.historyReads;
      assert.deepEqual(await a.history("placement", "web"), []);
      assert.equal((await a.history("loadBalancer", "web")).length, 1);
      assert.equal(a.historyReads, reads + 2);
      // Again: from memory, no query.
      assert.deepEqual(await a.history("placement", "web"), []);
      assert.equal((await a.history("loadBalancer", "web")).length, 1);
      assert.equal(a.historyReads, reads + 2, "the second reads came from memory");
      // Written through the other replica: once applied here, the history is read again and has it.
      await b.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }));
      });
      await until(async () => (await a.head()) === 2);
      assert.deepEqual(
        (await a.history("loadBalancer", "web")).map((v) => v.revision),
        [1, 2],
      );
      assert.deepEqual(await a.history("placement", "web"), [], "another entity's history is still kept");
      assert.equal(a.historyReads, reads + 3);
      // Written here: the replica's own commit drops it as well.
      await a.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "web"));
      const history = await a.history("loadBalancer", "web");
      assert.deepEqual(
        history.map((v) => [v.revision, v.doc === null]),
        [
          [1, false],
          [2, false],
          [3, true],
        ],
      );
      assert.deepEqual(history, await a.database.history("loadBalancer", "web"));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("falls back to one mutation per transaction when the database fails the batch", async () => {
    const db = await PostgresStore.open(server.url, { schema: "fallback" });
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) =>
          db.mutate(meta("CreateLoadBalancer"), async (tx) => {
            // A NUL in a key is refused by the database itself (text cannot hold it).
            tx.put("loadBalancer", i === 5 ? "bad\u0000key" : `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
          }),
        ),
      );
      const rejected = outcomes.flatMap((o, i) => (o.status === "rejected" ? [i] : []));
      assert.deepEqual(rejected, [5]);
      assert.equal((await db.list("loadBalancer")).length, 15);
      assert.equal(await db.head(), 15);
      assert.equal((await verifyJournal(db, { maxDivergences: 10 })).ok, true);
    } finally {
      await db.close();
    }
  });

  it("makes exactly one replica the active controller; a lost lock connection hands it over", async () => {
    const locks = ["r1", "r2", "r3"].map(
      (id) =>
        new ControllerLock({
          connectionString: server.url,
          schema: "lock",
          replicaId: id,
          logger,
          pollMs: 200,
        }),
    );
    try {
      await Promise.all(locks.map((l) => l.start()));
      const active = locks.filter((l) => l.isActive());
      assert.equal(active.length, 1, "exactly one active");
      const first = active[0] as ControllerLock;
      const listed = await first.replicas();
      assert.deepEqual(
        listed.map((r) => [r.id, r.active]),
        locks.map((l) => [l.replicaId, l === first]),
      );
      const stoodDown = new Promise<number>((resolve) => {
        const t0 = performance.now();
        first.onChange((a) => {
          if (!a) resolve(performance.now() - t0);
        });
      });
      await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
        `bc:lock:${first.replicaId}`,
      ]);
      const t0 = performance.now();
      await stoodDown;
      const lostAfter = performance.now() - t0;
      let next: ControllerLock | undefined;
      while (next === undefined && performance.now() - t0 < 5000) {
        await new Promise((r) => setTimeout(r, 20));
        next = locks.find((l) => l !== first && l.isActive());
      }
      assert.ok(next, "another replica took over within 5 s");
      const tookOver = performance.now() - t0;
      process.stderr.write(
        `# lock lost: standby after ${lostAfter.toFixed(0)} ms, takeover after ${tookOver.toFixed(0)} ms\n`,
      );
      assert.equal(locks.filter((l) => l.isActive()).length, 1, "still exactly one active");
      // The former holder reconnects as a standby, and never takes the lock while another holds it.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(first.isActive(), false);
      assert.equal(locks.filter((l) => l.isActive()).length, 1);
    } finally {
      await Promise.all(locks.map((l) => l.stop()));
    }
  });
});

// The replica store keeps the store contract too: the shared suite, on a replica over its own schema.
let replicaSchemas = 0;
let replicaSchema = "";
storeConformance("postgres replica", {
  open: async () => {
    replicaSchema = `replica_conformance_${++replicaSchemas}`;
    return ReplicaStore.open(await PostgresStore.open(server.url, { schema: replicaSchema }), { logger });
  },
  reopen: async () =>
    ReplicaStore.open(await PostgresStore.open(server.url, { schema: replicaSchema }), { logger }),
  rawSql: (store, sql) => store.database.rawSql(sql),
  // Another handle's commits reach this replica a notification later.
  settle: async (store) => {
    const head = await store.database.head();
    await until(async () => (await store.head()) >= head);
  },
  dropGuard: async (store) => {
    for (const table of APPEND_ONLY_TABLES)
      await store.database.rawSql(`DROP TRIGGER IF EXISTS ${table}_append_only ON ${table}`);
  },
});
