/**
 * Scheduled backups: state exports in one directory, named so they sort and can be listed
 * without being opened, `ballast-state-<revision>-<YYYYMMDDTHHMMSSmmmZ>.json`. A backup is taken
 * only when the journal moved since the last one, and pruning never deletes the newest.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { BallastError } from "../../model/errors.js";
import type { Logger } from "../../util/logger.js";
import type { Store } from "../store.js";
import { writeExportFile } from "./export.js";

export interface BackupFile {
  readonly path: string;
  readonly file: string;
  readonly revision: number;
  /** When the backup was taken, ISO 8601. */
  readonly time: string;
}

const NAME = /^ballast-state-(\d+)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z\.json$/;

export function backupFileName(revision: number, at: Date): string {
  const stamp = at.toISOString().replace(/[-:.]/g, "");
  return `ballast-state-${revision}-${stamp}`.concat(".json");
}

/** Writes a backup of the head state into `dir` (created if missing). */
export async function createBackup(store: Store, dir: string, now: Date = new Date()): Promise<BackupFile> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const revision = await store.head();
  const file = backupFileName(revision, now);
  const path = join(dir, file);
  await writeExportFile(store, path, { at: revision });
  return { path, file, revision, time: now.toISOString() };
}

/** The backups in `dir`, newest first (by time taken, then revision). Other files are ignored. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: BackupFile[] = [];
  for (const file of names) {
    const m = NAME.exec(file);
    if (!m) continue;
    const [, rev, y, mo, d, h, mi, s, ms] = m;
    out.push({
      path: join(dir, file),
      file,
      revision: Number(rev),
      time: `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`,
    });
  }
  return out.sort((a, b) => (a.time === b.time ? b.revision - a.revision : a.time < b.time ? 1 : -1));
}

export interface PruneOptions {
  /** How many of the newest backups to keep; at least 1. */
  readonly keep: number;
  /** Also delete backups older than this — except the newest, which is always kept. */
  readonly maxAgeDays?: number;
  readonly now?: Date;
}

/** Deletes backups beyond the newest `keep` (and older than `maxAgeDays`); returns the deleted. */
export async function pruneBackups(dir: string, options: PruneOptions): Promise<BackupFile[]> {
  if (!Number.isSafeInteger(options.keep) || options.keep < 1) {
    throw new BallastError(
      "ValidationError",
      `keep must be a whole number of 1 or more, not ${options.keep}`,
    );
  }
  const { maxAgeDays } = options;
  if (maxAgeDays !== undefined && !(maxAgeDays > 0)) {
    throw new BallastError("ValidationError", `maxAgeDays must be more than 0, not ${maxAgeDays}`);
  }
  const cutoff =
    maxAgeDays === undefined ? undefined : (options.now ?? new Date()).getTime() - maxAgeDays * 86_400_000;
  const backups = await listBackups(dir);
  const doomed = backups.filter(
    (b, i) => i > 0 && (i >= options.keep || (cutoff !== undefined && Date.parse(b.time) < cutoff)),
  );
  for (const b of doomed) await rm(b.path, { force: true });
  return doomed;
}

export interface BackupSchedulerOptions {
  readonly store: Store;
  readonly dir: string;
  readonly intervalMs: number;
  readonly keep: number;
  readonly maxAgeDays?: number;
  readonly logger: Logger;
}

/** Takes a backup every `intervalMs` when the journal has moved, then prunes. */
export class BackupScheduler {
  readonly #o: BackupSchedulerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #lastRevision: number | undefined;
  #stopped = true;

  constructor(options: BackupSchedulerOptions) {
    if (!(options.intervalMs > 0)) {
      throw new BallastError("ValidationError", `intervalMs must be more than 0, not ${options.intervalMs}`);
    }
    this.#o = options;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops the schedule and waits for a backup in progress to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One scheduled step: the backup taken, or undefined when the journal had not moved. */
  async runOnce(): Promise<BackupFile | undefined> {
    const run = this.#running.then(() => this.#step());
    this.#running = run.catch(() => undefined);
    return run;
  }

  async #step(): Promise<BackupFile | undefined> {
    const { store, dir, keep, maxAgeDays, logger } = this.#o;
    const head = await store.head();
    if (this.#lastRevision === undefined) this.#lastRevision = (await listBackups(dir))[0]?.revision;
    if (head === this.#lastRevision) {
      logger.debug("backup skipped: the journal has not moved", { revision: head });
      return undefined;
    }
    const backup = await createBackup(store, dir);
    this.#lastRevision = backup.revision;
    const pruned = await pruneBackups(dir, { keep, ...(maxAgeDays === undefined ? {} : { maxAgeDays }) });
    logger.info("backup written", { file: backup.file, revision: backup.revision, pruned: pruned.length });
    return backup;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.runOnce()
        .catch((e: unknown) => this.#o.logger.error("backup failed", { err: e, dir: this.#o.dir }))
        .finally(() => this.#schedule());
    }, this.#o.intervalMs);
    this.#timer.unref();
  }
}
