/**
 * Scheduled backups: state exports in one directory, named so they sort and can be listed
 * without being opened, `ballast-state-<revision>-<YYYYMMDDTHHMMSSmmmZ>.json`. A backup is taken
 * only when the journal moved since the last one, the schedule counts from the newest backup in the
 * directory (the time in its name), and pruning never deletes the newest.
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
  /**
   * How long after `start()` a backup that is already due is taken, so start-up settles first.
   * Default 10 s, or the interval when that is shorter.
   */
  readonly settleMs?: number;
  /**
   * Why no backup may be taken now (read-only mode: a backup of a damaged journal would look like a
   * good one to `state repair`), or undefined.
   */
  readonly paused?: () => string | undefined;
}

/**
 * Takes a backup every `intervalMs` when the journal has moved, then prunes. The clock runs from
 * the newest backup in `dir` — whoever wrote it, this process, an earlier one or an operator — not
 * from the start of the process: a control plane restarted every few minutes still backs up
 * every interval. At start, a backup that is due (or a folder with none) is taken after
 * `settleMs`; otherwise the next is at the newest backup's time plus the interval.
 */
export class BackupScheduler {
  readonly #o: BackupSchedulerOptions;
  readonly #settleMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #lastRevision: number | undefined;
  #stopped = true;
  /** Counts starts, so a timer armed by an earlier start (then stopped) never fires again. */
  #generation = 0;

  constructor(options: BackupSchedulerOptions) {
    if (!(options.intervalMs > 0)) {
      throw new BallastError("ValidationError", `intervalMs must be more than 0, not ${options.intervalMs}`);
    }
    const settle = options.settleMs ?? Math.min(10_000, options.intervalMs);
    if (!(settle >= 0)) {
      throw new BallastError("ValidationError", `settleMs must be 0 or more, not ${options.settleMs}`);
    }
    this.#o = options;
    this.#settleMs = settle;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const generation = ++this.#generation;
    this.#running = this.#dueIn(this.#settleMs).then(
      ({ ms, newest }) => {
        this.#o.logger.info("backups scheduled", {
          dir: this.#o.dir,
          newest: newest ?? null,
          nextInMs: ms,
          intervalMs: this.#o.intervalMs,
        });
        this.#arm(generation, ms);
      },
      (e: unknown) => {
        this.#o.logger.error("backup folder unreadable; next try after the interval", {
          err: e,
          dir: this.#o.dir,
        });
        this.#arm(generation, this.#o.intervalMs);
      },
    );
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
    const paused = this.#o.paused?.();
    if (paused !== undefined) {
      logger.warn("backup skipped", { reason: paused });
      return undefined;
    }
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

  /**
   * When the next backup is due: the newest backup's time plus the interval, but no sooner than
   * `soonest` and no later than one interval from now (a backup stamped in the future, by a clock
   * set wrong, must not stop the schedule). `soonest` when there is no backup, or it is overdue.
   */
  async #dueIn(soonest: number): Promise<{ ms: number; newest: string | undefined }> {
    const newest = (await listBackups(this.#o.dir))[0]?.time;
    const due = newest === undefined ? 0 : Date.parse(newest) + this.#o.intervalMs - Date.now();
    return { ms: Math.min(Math.max(due, soonest), this.#o.intervalMs), newest };
  }

  #arm(generation: number, ms: number): void {
    if (this.#stopped || generation !== this.#generation) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.runOnce()
        .catch((e: unknown) => this.#o.logger.error("backup failed", { err: e, dir: this.#o.dir }))
        // After a step the newest backup is this one (due in one interval) or an older one whose
        // journal had not moved since (checked again in one interval).
        .then(() => this.#dueIn(0))
        .then(
          ({ ms }) => this.#arm(generation, ms > 0 ? ms : this.#o.intervalMs),
          () => this.#arm(generation, this.#o.intervalMs),
        );
    }, ms);
    this.#timer.unref();
  }
}
