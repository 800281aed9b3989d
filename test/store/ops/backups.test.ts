import assert from "node:assert/strict";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  BackupScheduler,
  backupFileName,
  createBackup,
  listBackups,
  pruneBackups,
} from "../../../src/store/ops/backups.js";
import { readExportFile } from "../../../src/store/ops/export.js";
import { createLogger } from "../../../src/util/logger.js";
import { aLoadBalancer, meta } from "../../support/builders.js";
import { openTempStore, type TempStore, tempDir } from "./support.js";

describe("backups", () => {
  let t: TempStore;
  let dir: string;
  before(async () => {
    t = await openTempStore();
    dir = tempDir("ballast-backups-");
    await t.store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer());
    });
  });
  after(async () => {
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a backup named by revision and time, readable as an export", async () => {
    const b = await createBackup(t.store, dir, new Date("2026-12-24T12:24:00.123Z"));
    assert.equal(b.file, "ballast-state-1-20261224T122400123Z.json");
    assert.equal(b.revision, 1);
    const doc = await readExportFile(b.path);
    assert.equal(doc.revision, 1);
    assert.deepEqual(await listBackups(dir), [b]);
  });

  it("lists newest first, ignoring other files, and prunes to the newest N", async () => {
    const d = tempDir("ballast-prune-");
    try {
      const day = 86_400_000;
      const now = new Date("2027-01-10T00:00:00.000Z");
      for (let i = 0; i < 6; i++) {
        writeFileSync(join(d, backupFileName(i + 1, new Date(now.getTime() - (6 - i) * day))), "{}");
      }
      writeFileSync(join(d, "notes.txt"), "not a backup");
      const listed = await listBackups(d);
      assert.deepEqual(
        listed.map((b) => b.revision),
        [6, 5, 4, 3, 2, 1],
      );
      const pruned = await pruneBackups(d, { keep: 4, now });
      assert.deepEqual(
        pruned.map((b) => b.revision),
        [2, 1],
      );
      const aged = await pruneBackups(d, { keep: 4, maxAgeDays: 2.5, now });
      assert.deepEqual(
        aged.map((b) => b.revision),
        [4, 3],
      );
      // Everything is older than the age limit, but the newest is never deleted.
      await pruneBackups(d, { keep: 4, maxAgeDays: 0.5, now });
      assert.deepEqual(
        readdirSync(d).sort(),
        [backupFileName(6, new Date(now.getTime() - day)), "notes.txt"].sort(),
      );
      await assert.rejects(pruneBackups(d, { keep: 0 }), /keep must be/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("the scheduler backs up when the journal moved and skips when it did not", async (tc) => {
    const d = tempDir("ballast-sched-");
    const lines: string[] = [];
    const logger = createLogger({}, "debug", (l) => lines.push(l));
    const scheduler = new BackupScheduler({ store: t.store, dir: d, intervalMs: 20, keep: 2, logger });
    try {
      scheduler.start();
      await sleep(150);
      assert.equal((await listBackups(d)).length, 1, "one backup while the head stays put");
      assert.ok(lines.some((l) => l.includes("backup skipped")));
      for (let i = 0; i < 3; i++) {
        await t.store.mutate(meta(), async (tx) => {
          tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
        });
        const head = await t.store.head();
        const deadline = Date.now() + 2000;
        while (!(await listBackups(d)).some((b) => b.revision === head) && Date.now() < deadline)
          await sleep(10);
      }
      await scheduler.stop();
      const backups = await listBackups(d);
      assert.equal(backups.length, 2, "pruned to keep: 2");
      assert.equal(backups[0]?.revision, await t.store.head());
      tc.diagnostic(`scheduler wrote ${lines.filter((l) => l.includes("backup written")).length} backups`);

      // A new scheduler on the same folder knows the newest backup is already current.
      const again = new BackupScheduler({ store: t.store, dir: d, intervalMs: 1000, keep: 2, logger });
      assert.equal(await again.runOnce(), undefined);
    } finally {
      await scheduler.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
