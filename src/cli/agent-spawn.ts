/**
 * How an agent's keeper starts a worker process, and the early start of the first one: `ballast
 * agent` starts its first worker before it loads anything of its own (the command table, the
 * flags, the keeper), so the worker's start — the whole gap between a cold start and the first
 * request served — runs beside the keeper's instead of after it. The keeper adopts that worker
 * once it is ready to answer for its sockets. Node builtins only: this loads first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import module from "node:module";
import { dirname, join } from "node:path";

/** What the keeper tells each worker about the workers before it (shown in its metrics). */
export const WORKER_STARTS_ENV = "BALLAST_AGENT_WORKER_STARTS";
export const WORKER_CRASHES_ENV = "BALLAST_AGENT_WORKER_CRASHES";
/**
 * The worker's young generation, in MiB per semi-space (V8's default grows it to 16). An agent
 * building thousands of nodes at start makes V8 grow it to the maximum and keep it: 32 MiB of RSS
 * that is no load balancer's but reads as one per 31 at 1,000. 4 keeps it at 8 MiB; the proxy's
 * per-request garbage dies young either way (docs/BENCHMARKS.md, agent memory).
 */
export const WORKER_SEMI_SPACE_MB = 4;
/** Set in a successor keeper's environment (an upgrade): its sockets come over its IPC channel. */
export const HANDOVER_ENV = "BALLAST_AGENT_HANDOVER";
export const PID_FILE = "agent.pid";

/**
 * The worker's open-file limit: with `--nofile N`, soft and hard raised to N (the hard limit
 * only as root; otherwise as far as the hard limit allows); without, the soft limit up to the hard.
 */
function limitScript(argv: readonly string[]): string {
  const i = argv.findIndex((a) => a === "--nofile" || a.startsWith("--nofile="));
  const flag = argv[i] ?? "";
  // Checked as a whole number by the command before the keeper runs.
  const n = Number(flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : argv[i + 1]);
  const raise =
    Number.isInteger(n) && n > 0 ? `ulimit -Hn ${n} 2>/dev/null; ulimit -Sn ${n} 2>/dev/null || ` : "";
  return `${raise}ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
}

/** The keeper's own node flags, and a smaller young generation unless those set one. */
function workerFlags(): string[] {
  const own = process.execArgv;
  if (own.some((f) => f.startsWith("--max-semi-space-size"))) return own;
  return [...own, `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}

/**
 * The worker's entry point: agent-worker-main.js beside the release `mainJs` names now (resolved
 * anew at each start, so an installed upgrade is what starts), else `mainJs` itself.
 */
function workerEntry(mainJs: string): string {
  try {
    const entry = join(dirname(realpathSync(mainJs)), "agent-worker-main.js");
    return existsSync(entry) ? entry : mainJs;
  } catch {
    return mainJs;
  }
}

/**
 * Node 22.1+ keeps compiled code on disk between starts (a start skips compiling the modules an
 * earlier one compiled): for this process from here on, for its workers from their first line
 * (NODE_COMPILE_CACHE, which older nodes ignore). The cache lives in the agent's data directory.
 * False where this node has none.
 */
export function enableCompileCache(dataDir: string): boolean {
  const enable = (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (typeof enable !== "function") return false;
  const dir = join(dataDir, "compile-cache");
  process.env.NODE_COMPILE_CACHE = dir;
  try {
    enable(dir);
  } catch {
    // Unwritable: the workers try again, and start uncached if they fail too.
  }
  return true;
}

/** Starts one worker (`argv`: the agent's flags) through the wrapper that sets its file limit. */
export function spawnWorker(
  argv: readonly string[],
  history: { starts: number; crashes: number },
): ChildProcess {
  const mainJs = process.argv[1] ?? "";
  return spawn(
    "/bin/sh",
    [
      "-c",
      limitScript(argv),
      process.execPath,
      ...workerFlags(),
      workerEntry(mainJs),
      "agent",
      "--worker",
      ...argv,
    ],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        [WORKER_STARTS_ENV]: String(history.starts),
        [WORKER_CRASHES_ENV]: String(history.crashes),
      },
    },
  );
}

/** A worker started early, with what it said before its keeper listened. */
interface EarlyWorker {
  readonly child: ChildProcess;
  readonly said: [unknown, unknown][];
  readonly hear: (m: unknown, handle: unknown) => void;
  readonly kill: () => void;
}

let early: EarlyWorker | undefined;

/** The value of `--name V` or `--name=V` in argv. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** A live agent keeper named by `dataDir`'s pid file (this one would adopt it, not start). */
function keeperRuns(dataDir: string): boolean {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("agent") && cmdline.includes(dataDir);
  } catch {
    return false;
  }
}

/**
 * `ballast agent …` that will be a keeper starting from scratch (its data directory there, no
 * keeper running for it): start its first worker now. Anything else: nothing. A worker started
 * here and never adopted (the flags were wrong) is killed when this process exits.
 */
export function startEarlyWorker(args: readonly string[]): void {
  const [command, ...argv] = args;
  if (command !== "agent" || process.env[HANDOVER_ENV] === "1") return;
  const other = ["--worker", "--reload", "--upgrade", "--single-process", "--help", "-h", "help"];
  if (argv.some((a) => other.includes(a) || other.some((o) => a.startsWith(`${o}=`)))) return;
  const dataDir = flagValue(argv, "--data-dir");
  if (dataDir === undefined || !existsSync(dataDir) || keeperRuns(dataDir)) return;
  enableCompileCache(dataDir);
  const child = spawnWorker(argv, { starts: 1, crashes: 0 });
  const said: [unknown, unknown][] = [];
  const hear = (m: unknown, handle: unknown): void => {
    said.push([m, handle]);
  };
  child.on("message", hear);
  // Nothing of this process listens for its exit yet: an error must not kill this process.
  child.on("error", () => {});
  // Not adopted yet, it must not keep this process alive: flags found wrong end it at once.
  child.unref();
  child.channel?.unref();
  const kill = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", kill);
  early = { child, said, hear, kill };
}

/**
 * The worker started early, for the keeper: whatever it said so far is said again once the keeper
 * listens (on the next tick, after it attached its listeners in this one). Undefined if none.
 */
export function adoptEarlyWorker(): ChildProcess | undefined {
  const e = early;
  early = undefined;
  if (e === undefined) return undefined;
  process.off("exit", e.kill);
  e.child.off("message", e.hear);
  e.child.ref();
  e.child.channel?.ref();
  if (e.child.exitCode !== null || e.child.signalCode !== null) return undefined;
  process.nextTick(() => {
    for (const [m, handle] of e.said) e.child.emit("message", m, handle);
  });
  return e.child;
}

/** Kills a worker started early that will not be adopted (this process adopts a keeper). */
export function dropEarlyWorker(): void {
  early?.kill();
  early = undefined;
}
