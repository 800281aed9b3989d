import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { StateMonitor } from "../../../src/controller/state-monitor.js";
import { APPEND_ONLY_TABLES } from "../../../src/store/journal.js";
import { createBackup } from "../../../src/store/ops/backups.js";
import { JOURNAL_EPOCH_ACTION } from "../../../src/store/ops/epoch.js";
import { gatedStore } from "../../../src/store/ops/gated-store.js";
import { applyJournalRepair, planJournalRepair } from "../../../src/store/ops/repair-journal.js";
import { stateAt } from "../../../src/store/ops/snapshot.js";
import { verifyJournal } from "../../../src/store/ops/verify.js";
import { PostgresStore } from "../../../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../../src/store/store.js";
import { silentLogger } from "../../../src/util/logger.js";
import { aLoadBalancer, meta } from "../../support/builders.js";
import { cleanupsAfterAll } from "../../support/cleanups.js";
import { type PostgresServer, startPostgres } from "../../support/postgres.js";

const cleanups = cleanupsAfterAll();
let server: Promise<PostgresServer> | undefined;
after(async () => {
  await (await server)?.stop();
});

interface Driver {
  readonly name: string;
  open(): Promise<{ store: Store; raw: (sql: string) => Promise<number>; dropGuard: () => Promise<void> }>;
}

const drivers: Driver[] = [
  {
    name: "sqlite",
    open: async () => {
      const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-repair-")), "ballast.db"));
      cleanups.push(() => store.close());
      return {
        store,
        raw: (sql) => store.rawSql(sql),
        dropGuard: async () => {
          for (const t of APPEND_ONLY_TABLES) {
            await store.rawSql(`DROP TRIGGER IF EXISTS ${t}_no_update`);
            await store.rawSql(`DROP TRIGGER IF EXISTS ${t}_no_delete`);
          }
        },
      };
    },
  },
  {
    name: "postgres",
    open: async () => {
      server ??= startPostgres();
      const store = await PostgresStore.open((await server).url, { schema: `repair_${Date.now()}` });
      cleanups.push(() => store.close());
      return {
        store,
        raw: (sql) => store.rawSql(sql),
        dropGuard: async () => {
          for (const t of APPEND_ONLY_TABLES)
            await store.rawSql(`DROP TRIGGER IF EXISTS ${t}_append_only ON ${t}`);
        },
      };
    },
  },
];

for (const driver of drivers) {
  describe(`state repair (${driver.name})`, () => {
    it("refuses changes in read-only mode, rebuilds from the backup, the intact revisions, the current rows of damaged ones and the agents' reports, and starts a new epoch that verifies", async () => {
      const { store, raw, dropGuard } = await driver.open();
      const backupDir = mkdtempSync(join(tmpdir(), "ballast-repair-backups-"));
      for (let i = 0; i < 6; i++)
        await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
          tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
        });
      const backup = await createBackup(store, backupDir);
      assert.equal(backup.revision, 6);
      // Later changes: revision 7 (intact) and revision 8 (to be damaged).
      await store.mutate(meta("AddTags"), async (tx) => {
        tx.put("loadBalancer", "lb-1", aLoadBalancer({ name: "lb-1", tags: [{ key: "k", value: "7" }] }));
      });
      await store.mutate(meta("AddTags"), async (tx) => {
        tx.put("loadBalancer", "lb-2", aLoadBalancer({ name: "lb-2", tags: [{ key: "k", value: "8" }] }));
        tx.put("loadBalancer", "lb-6", aLoadBalancer({ name: "lb-6" }));
      });
      const before = await stateAt(store, 8);
      // An agent serves a load balancer the journal never had.
      await store.putAgentStatus({
        agentId: "agent-a",
        zone: "us-east-1a",
        configRevision: 8,
        nodes: [
          {
            loadBalancer: "ghost",
            address: "127.0.9.1",
            listeners: [{ port: 8080, protocol: "HTTP", bound: true }],
          },
        ],
        health: [
          {
            loadBalancer: "ghost",
            instanceId: "i-ghost",
            state: "InService",
            reasonCode: "N/A",
            description: "",
          },
        ],
        unexplained: ["ghost"],
        time: new Date().toISOString(),
      });

      // The maintenance process: guards dropped, the versions of revision 8 deleted.
      await dropGuard();
      assert.equal(await raw("DELETE FROM versions WHERE revision = 8"), 2);

      const monitor = new StateMonitor({ store, logger: silentLogger });
      await monitor.check();
      const incident = monitor.readOnly();
      assert.ok(incident, "read-only mode");
      assert.match(incident.detail, /revision 8/);
      const api = gatedStore(store, monitor);
      await assert.rejects(
        api.mutate(meta("CreateLoadBalancer"), async (tx) =>
          tx.put("loadBalancer", "x", aLoadBalancer({ name: "x" })),
        ),
        (e: Error & { code?: string }) =>
          e.code === "ServiceUnavailable" && /read-only mode since .*ballast state repair/.test(e.message),
      );
      assert.equal((await api.list("loadBalancer")).length, 7, "reads still answer");

      const { plan } = await planJournalRepair(store, { backupDir, dnsDomain: "ballast.internal" });
      assert.equal(plan.journalVerified, false);
      assert.equal(plan.backup?.revision, 6);
      assert.equal(plan.revisionsReplayed, 1);
      assert.deepEqual(plan.damagedRevisions, [8]);
      assert.deepEqual([...plan.fromCurrent].sort(), [
        "loadBalancer 'lb-2' (revision 8)",
        "loadBalancer 'lb-6' (revision 8)",
      ]);
      assert.deepEqual(
        plan.fromAgents.map((a) => [a.name, a.listeners, a.instances]),
        [["ghost", ["HTTP:8080"], ["i-ghost"]]],
      );
      assert.equal(plan.epochRevision, 9);
      assert.deepEqual(plan.lines.length, 1, plan.lines.join("\n"));
      assert.equal(await store.head(), 8, "a plan writes nothing");

      const applied = await applyJournalRepair(
        store,
        { backupDir, dnsDomain: "ballast.internal" },
        {
          ...meta("x", "admin"),
          ticket: "repair: drill",
        },
      );
      assert.equal(applied.revision.number, 9);
      assert.equal(applied.revision.action, JOURNAL_EPOCH_ACTION);
      assert.equal(applied.evidence.length, 4);
      const report = await verifyJournal(store);
      assert.equal(report.ok, true, JSON.stringify(report.firstDivergence));
      assert.equal(report.epoch?.revision, 9);
      assert.equal(report.epoch?.reason, "repair: drill");
      await monitor.check();
      assert.equal(monitor.readOnly(), undefined, "writable again");

      const after = await stateAt(store, 9);
      for (const [key, doc] of before.entities.loadBalancer)
        assert.deepEqual(after.entities.loadBalancer.get(key), doc, key);
      assert.ok(after.entities.loadBalancer.get("ghost"));
      await assert.rejects(stateAt(store, 8), /before the journal's current epoch/);

      // Writable, chained and guarded again.
      await api.mutate(meta("CreateLoadBalancer"), async (tx) =>
        tx.put("loadBalancer", "x", aLoadBalancer({ name: "x" })),
      );
      assert.equal(await store.head(), 10);
      assert.equal((await verifyJournal(store)).ok, true);
      await assert.rejects(raw("DELETE FROM versions WHERE revision = 9"), /append-only/);
      assert.equal(
        await raw("SELECT 1 FROM versions_epoch1 WHERE revision = 7"),
        driver.name === "sqlite" ? 0 : 1,
      );
    });
  });
}
