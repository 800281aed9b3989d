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

  describe("the schedule counts from the newest backup in the folder, not from the start", () => {
    const INTERVAL = 3000;
    const quiet = createLogger({}, "error", () => undefined);
    const moveJournal = (name: string) =>
      t.store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", name, aLoadBalancer({ name }));
      });
    const scheduler = (d: string, intervalMs = INTERVAL): BackupScheduler =>
      new BackupScheduler({ store: t.store, dir: d, intervalMs, keep: 10, logger: quiet, settleMs: 50 });
    /** Waits for a backup of the head revision to appear in `d`, up to `ms`; returns it or undefined. */
    const backupOfHead = async (d: string, ms: number) => {
      const head = await t.store.head();
      const deadline = Date.now() + ms;
      for (;;) {
        const found = (await listBackups(d)).find((b) => b.revision === head);
        if (found || Date.now() > deadline) return found;
        await sleep(20);
      }
    };

    it("a restart before the interval elapsed does not reset the clock", async () => {
      const d = tempDir("ballast-restart-early-");
      // The previous process took a backup half an interval ago, then the journal moved.
      const previous = await createBackup(t.store, d, new Date(Date.now() - INTERVAL / 2));
      await moveJournal("early");
      const s = scheduler(d);
      try {
        s.start();
        assert.equal(await backupOfHead(d, INTERVAL / 4), undefined, "no backup at once: one is not due");
        const next = await backupOfHead(d, 2 * INTERVAL);
        assert.ok(next, "the next backup was taken");
        const after = Date.parse(next.time) - Date.parse(previous.time);
        // Due one interval after the previous backup; a clock reset at start would make it 1.5.
        assert.ok(after >= INTERVAL - 100, `not before its time (${after} ms after the previous)`);
        assert.ok(
          after < INTERVAL * 1.35,
          `one interval after the previous backup, not after start (${after} ms)`,
        );
      } finally {
        await s.stop();
        rmSync(d, { recursive: true, force: true });
      }
    });

    it("a restart after the interval elapsed (or with no backup at all) takes one at once", async () => {
      const d = tempDir("ballast-restart-late-");
      try {
        await createBackup(t.store, d, new Date(Date.now() - 2 * INTERVAL));
        await moveJournal("late");
        const s = scheduler(d);
        const started = Date.now();
        s.start();
        const taken = await backupOfHead(d, INTERVAL / 2);
        await s.stop();
        assert.ok(taken, "a backup soon after start");
        assert.ok(Date.parse(taken.time) - started < INTERVAL / 2);

        const empty = tempDir("ballast-restart-none-");
        const first = scheduler(empty);
        try {
          first.start();
          assert.ok(await backupOfHead(empty, INTERVAL / 2), "a first backup soon after start");
        } finally {
          await first.stop();
          rmSync(empty, { recursive: true, force: true });
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });

    it("a control plane restarted more often than the interval still backs up every interval", async () => {
      const d = tempDir("ballast-restarts-");
      const interval = 1000;
      try {
        const until = Date.now() + 2.6 * interval;
        let n = 0;
        while (Date.now() < until) {
          await moveJournal(`restart-${n++}`);
          const s = scheduler(d, interval);
          s.start();
          await sleep(interval * 0.4);
          await s.stop();
        }
        const times = (await listBackups(d)).map((b) => Date.parse(b.time)).reverse();
        assert.ok(times.length >= 3, `a backup at start and one per interval (${times.length})`);
        for (let i = 1; i < times.length; i++) {
          const gap = (times[i] as number) - (times[i - 1] as number);
          assert.ok(gap >= interval - 100, `backups an interval apart (${gap} ms)`);
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
  });
});
