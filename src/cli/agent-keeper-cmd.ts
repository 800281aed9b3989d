/**
 * The keeper side of `ballast agent` (see src/agent/keeper.ts): takes over the data directory,
 * starts the worker through a wrapper that raises its open-file limit, restarts a crashed worker
 * and replaces it on SIGUSR2; `ballast agent --reload` sends that signal and waits for the swap.
 * `ballast agent --upgrade` asks for the keeper itself to be replaced (src/agent/keeper-handover.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type HeldSocket, Keeper } from "../agent/keeper.js";
import { handOver, receiveHandover, tellPredecessor } from "../agent/keeper-handover.js";
import type { Logger } from "../util/logger.js";
import {
  adoptEarlyWorker,
  dropEarlyWorker,
  enableCompileCache,
  HANDOVER_ENV,
  PID_FILE,
  spawnWorker,
} from "./agent-spawn.js";
import { UsageError } from "./args.js";

export { WORKER_CRASHES_ENV, WORKER_SEMI_SPACE_MB, WORKER_STARTS_ENV } from "./agent-spawn.js";

export interface KeeperRun {
  readonly dataDir: string;
  readonly zone: string;
  readonly logger: Logger;
  readonly drainMs: number;
}

const WORKER_PID_FILE = "worker.pid";
/** Flags handed to a running keeper by a later `ballast agent` for the same directory. */
const FLAGS_FILE = "keeper-flags.json";
/** How long `--reload` waits for the new worker to take over. */
const RELOAD_WAIT_MS = 60_000;
/** Present when SIGUSR2 asks for the keeper itself to be replaced, not only its worker. */
const UPGRADE_FILE = "keeper-upgrade";
/** Left by a keeper whose successor failed, for `--upgrade` to report. */
const UPGRADE_FAILED_FILE = "keeper-upgrade-failed";
/** How long a successor keeper may take to receive the sockets and have its worker serve. */
const SUCCESSOR_READY_MS = 60_000;

export async function runKeeper(argv: readonly string[], run: KeeperRun): Promise<void> {
  const { dataDir, logger } = run;
  // A successor keeper (an upgrade): the sockets come from the keeper it replaces, which runs on.
  const successor = process.env[HANDOVER_ENV] === "1" && process.send !== undefined;
  delete process.env[HANDOVER_ENV];
  let inherited: Map<string, HeldSocket> | undefined;
  if (successor) inherited = await receiveHandover(SUCCESSOR_READY_MS);
  else {
    if (await adopt(argv, run)) return;
    await takeOver(dataDir);
  }
  let workerArgv = argv;
  // The worker runs from the same entry point as typed (a symlink to the installed release is
  // followed anew at each reload, which is how an upgrade is rolled out).
  const mainJs = process.argv[1] ?? "";
  enableCompileCache(dataDir);
  const keeper = new Keeper({
    logger,
    drainTimeoutMs: run.drainMs,
    ...(inherited === undefined ? {} : { inherited }),
    // The first worker may have been started before this process loaded anything (agent-spawn.ts).
    spawnWorker: (history) =>
      (history.starts === 1 ? adoptEarlyWorker() : undefined) ?? spawnWorker(workerArgv, history),
    onWorker: (pid) => {
      writeFile(join(dataDir, WORKER_PID_FILE), `${pid}\n`, { mode: 0o600 }).catch((err: unknown) =>
        logger.warn("could not write the worker pid file", { err }),
      );
    },
  });
  keeper.start();
  logger.info("agent keeper started", {
    pid: process.pid,
    sinceStartMs: Math.round(performance.now()),
    drainTimeoutMs: run.drainMs,
    ...(inherited === undefined ? {} : { inheritedSockets: inherited.size }),
  });
  if (successor) await succeed(keeper, dataDir, logger);
  let upgrading = false;
  process.on("SIGUSR2", () => {
    if (upgrading) return;
    void (async () => {
      if (await takeRequest(join(dataDir, UPGRADE_FILE))) {
        upgrading = true;
        if (await upgrade(keeper, workerArgv, mainJs, run)) process.exit(0);
        upgrading = false;
        return;
      }
      const flags = await handedFlags(dataDir);
      if (flags !== undefined) workerArgv = flags;
      logger.info("reload requested", { newFlags: flags !== undefined });
      await keeper.reload();
    })();
  });
  onStopSignals(logger, async () => {
    await keeper.stop();
    // Stopped mid-upgrade, the files may name the successor by now: they are its to remove.
    if ((await readPid(join(dataDir, PID_FILE))) !== process.pid) return;
    await rm(join(dataDir, WORKER_PID_FILE), { force: true });
    await rm(join(dataDir, PID_FILE), { force: true });
  });
}

/**
 * This keeper replaces another: once its worker serves on the inherited sockets it names itself
 * in the pid file and tells the old keeper, which then drains and exits. A worker that does not
 * serve in time: this keeper lets its copies go and exits (the old keeper runs on).
 */
async function succeed(keeper: Keeper, dataDir: string, logger: Logger): Promise<void> {
  if (!(await keeper.serving(SUCCESSOR_READY_MS))) {
    await tellPredecessor({ kind: "successor-failed", error: "its worker did not serve" });
    await keeper.stop();
    process.exit(1);
  }
  await writeFile(join(dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 });
  await tellPredecessor({ kind: "successor-ready", sockets: keeper.sockets });
  if (process.connected) process.disconnect();
  logger.info("agent keeper took over", { pid: process.pid, sockets: keeper.sockets });
}

/**
 * Replaces this keeper with a new one started from the entry point as typed (the release a
 * symlink names now), handing it every socket; true once it serves and this keeper's worker has
 * drained (the caller exits). Started detached, in its own session: it outlives this process.
 */
async function upgrade(
  keeper: Keeper,
  argv: readonly string[],
  mainJs: string,
  run: KeeperRun,
): Promise<boolean> {
  const { logger } = run;
  logger.info("keeper upgrade requested: starting a successor keeper", { sockets: keeper.sockets });
  let successor: ChildProcess;
  try {
    successor = spawn(process.execPath, [...process.execArgv, mainJs, "agent", ...argv], {
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, [HANDOVER_ENV]: "1" },
    });
  } catch (err) {
    logger.error("could not start a successor keeper", { err });
    await upgradeFailed(run.dataDir);
    return false;
  }
  if (!(await handOver(keeper, successor, logger, SUCCESSOR_READY_MS))) {
    await upgradeFailed(run.dataDir);
    return false;
  }
  await keeper.retire();
  logger.info("agent keeper replaced", { old: process.pid, new: successor.pid });
  return true;
}

async function upgradeFailed(dataDir: string): Promise<void> {
  await writeFile(join(dataDir, UPGRADE_FAILED_FILE), `${process.pid}\n`, { mode: 0o600 }).catch(() => {});
}

/** True (and the request file removed) when `file` was there. */
async function takeRequest(file: string): Promise<boolean> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return false;
  await rm(file, { force: true });
  return true;
}

/**
 * A keeper already runs for this directory (`ballast up` crashed and left it, and is starting
 * again): rather than stop it — which would close its sockets — hand it this invocation's flags
 * (a new control-plane address, say) and have it reload its worker with them. This process then
 * stands in for it: signals are passed on, and it exits when the keeper stops. Should the keeper
 * die without stopping (its pid file left behind), this process becomes the keeper (its sockets
 * are gone by then). False when
 * there is no keeper to adopt.
 */
async function adopt(argv: readonly string[], run: KeeperRun): Promise<boolean> {
  const keeper = await agentPid(run.dataDir, PID_FILE);
  if (keeper === undefined) return false;
  dropEarlyWorker();
  const { logger } = run;
  await writeFile(join(run.dataDir, FLAGS_FILE), JSON.stringify(argv), { mode: 0o600 });
  process.kill(keeper, "SIGUSR2");
  logger.info("an agent keeper already runs for this directory: it reloads its worker with these flags", {
    keeper,
  });
  let stopping = false;
  const pass = (signal: NodeJS.Signals): void => {
    if (signal !== "SIGUSR2") stopping = true;
    if (alive(keeper)) process.kill(keeper, signal);
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGUSR2"] as const) process.on(signal, () => pass(signal));
  while (alive(keeper)) await new Promise((r) => setTimeout(r, 200));
  // A keeper stopped cleanly (by this process or anyone) removes its pid file: follow it out.
  if (stopping || (await readPid(join(run.dataDir, PID_FILE))) !== keeper) process.exit(0);
  logger.warn("the adopted agent keeper exited; this process takes its place", { keeper });
  for (const signal of ["SIGTERM", "SIGINT", "SIGUSR2"] as const) process.removeAllListeners(signal);
  await runKeeper(argv, run);
  return true;
}

/** The flags a later `ballast agent` for this directory handed over, once (the file is removed). */
async function handedFlags(dataDir: string): Promise<string[] | undefined> {
  const file = join(dataDir, FLAGS_FILE);
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  await rm(file, { force: true });
  try {
    const flags: unknown = JSON.parse(text);
    return Array.isArray(flags) && flags.every((f) => typeof f === "string") ? flags : undefined;
  } catch {
    return undefined;
  }
}

/** `ballast agent --reload --data-dir DIR`: a new worker takes over from the running one. */
export async function reloadAgent(dataDir: string): Promise<void> {
  const keeper = await agentPid(dataDir, PID_FILE);
  if (keeper === undefined) throw new UsageError(`no agent keeper runs for ${dataDir}`);
  const before = await readPid(join(dataDir, WORKER_PID_FILE));
  process.kill(keeper, "SIGUSR2");
  console.log(`reloading the agent in ${dataDir} (keeper ${keeper}, worker ${before ?? "-"})…`);
  const deadline = Date.now() + RELOAD_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await readPid(join(dataDir, WORKER_PID_FILE));
    if (now !== undefined && now !== before && alive(now)) {
      console.log(`agent in ${dataDir} reloaded: worker ${before ?? "-"} drains, worker ${now} serves`);
      return;
    }
  }
  throw new Error(
    `the agent in ${dataDir} did not swap workers within ${RELOAD_WAIT_MS / 1000} s; see its log`,
  );
}

/**
 * `ballast agent --upgrade --data-dir DIR`: the keeper hands its sockets to a new keeper (started
 * from the entry point as installed now) and exits once its worker has drained.
 */
export async function upgradeAgent(dataDir: string): Promise<void> {
  const old = await agentPid(dataDir, PID_FILE);
  if (old === undefined) throw new UsageError(`no agent keeper runs for ${dataDir}`);
  await rm(join(dataDir, UPGRADE_FAILED_FILE), { force: true });
  await writeFile(join(dataDir, UPGRADE_FILE), `${old}\n`, { mode: 0o600 });
  process.kill(old, "SIGUSR2");
  console.log(`upgrading the agent in ${dataDir}: keeper ${old} hands its sockets to a new keeper…`);
  const deadline = Date.now() + SUCCESSOR_READY_MS + RELOAD_WAIT_MS;
  let successor: number | undefined;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await readPid(join(dataDir, PID_FILE));
    if (successor === undefined && now !== undefined && now !== old && alive(now)) {
      successor = now;
      console.log(`keeper ${now} holds the sockets and serves; keeper ${old} drains its worker…`);
    }
    if (successor !== undefined && !alive(old)) {
      console.log(`agent in ${dataDir} upgraded: keeper ${successor} serves, keeper ${old} has exited`);
      return;
    }
    if (successor === undefined && !alive(old))
      throw new Error(`keeper ${old} exited without a successor; see its log`);
    if (successor === undefined && (await takeRequest(join(dataDir, UPGRADE_FAILED_FILE))))
      throw new Error(
        `the new keeper failed (see the agent's log: 'the successor keeper failed'); keeper ${old} and its worker serve as before`,
      );
  }
  await rm(join(dataDir, UPGRADE_FILE), { force: true });
  throw new Error(
    `the agent in ${dataDir} was not upgraded within ${(SUCCESSOR_READY_MS + RELOAD_WAIT_MS) / 1000} s; see its log`,
  );
}

/**
 * Stops the agent (keeper and worker) left running for this directory, then claims it. The pid
 * must still be an agent of this directory: pids are reused.
 */
export async function takeOver(dataDir: string): Promise<void> {
  for (const file of [PID_FILE, WORKER_PID_FILE]) {
    const old = await agentPid(dataDir, file);
    if (old === undefined) continue;
    process.kill(old, "SIGTERM");
    for (let i = 0; i < 100 && alive(old); i++) await new Promise((r) => setTimeout(r, 50));
    if (alive(old)) process.kill(old, "SIGKILL");
  }
  await writeFile(join(dataDir, PID_FILE), `${process.pid}\n`, { mode: 0o600 });
}

async function agentPid(dataDir: string, file: string): Promise<number | undefined> {
  const pid = await readPid(join(dataDir, file));
  if (pid === undefined || pid === process.pid) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("agent") && cmdline.includes(dataDir) ? pid : undefined;
}

async function readPid(file: string): Promise<number | undefined> {
  const n = Number((await readFile(file, "utf8").catch(() => "")).trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM and SIGINT run `stop` once, then exit 0 (1 if it failed). */
export function onStopSignals(logger: Logger, stop: () => Promise<unknown>): void {
  const run = (signal: string): void => {
    logger.info("agent stopping", { signal });
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error("agent stop failed", { err: e });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => run("SIGTERM"));
  process.once("SIGINT", () => run("SIGINT"));
}
