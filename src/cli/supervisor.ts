/**
 * Runs agents as separate OS processes for `ballast up`, restarting one that exits
 * unexpectedly, and stopping all of them on shutdown. Each is an agent's keeper, which itself
 * restarts a crashed agent worker on the same listening sockets (src/agent/keeper.ts): what this
 * restarts is a keeper that died, which is rare. Agent logs go to files in the data
 * directory so the terminal keeps showing what a person needs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import type { Logger } from "../util/logger.js";

export interface AgentProcessSpec {
  readonly zone: string;
  readonly args: readonly string[];
  readonly logFile: string;
}

const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 5000;

export class Supervisor {
  readonly #mainJs: string;
  readonly #logger: Logger;
  readonly #children = new Map<string, ChildProcess>();
  #stopping = false;

  constructor(mainJs: string, logger: Logger) {
    this.#mainJs = mainJs;
    this.#logger = logger;
  }

  start(spec: AgentProcessSpec): void {
    if (this.#stopping) return;
    const log = openSync(spec.logFile, "a", 0o600);
    // Through sh, to raise the agent's soft open-file limit to the hard limit where allowed:
    // its connection caps are derived from it (src/proxy/connection-budget.ts).
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"',
        process.execPath,
        "--enable-source-maps",
        this.#mainJs,
        "agent",
        ...spec.args,
      ],
      { stdio: ["ignore", log, log] },
    );
    this.#children.set(spec.zone, child);
    child.once("exit", (code, signal) => {
      if (this.#children.get(spec.zone) === child) this.#children.delete(spec.zone);
      if (this.#stopping) return;
      this.#logger.warn("agent exited; restarting", { zone: spec.zone, code, signal, logFile: spec.logFile });
      setTimeout(() => this.start(spec), RESTART_DELAY_MS).unref();
    });
  }

  /** Every agent starts a new worker on its listening sockets; the old ones drain and exit. */
  reload(): void {
    for (const [zone, child] of this.#children) {
      this.#logger.info("reloading agent", { zone, pid: child.pid });
      child.kill("SIGUSR2");
    }
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.#children].map(([zone, c]) => [zone, c.pid]));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
            child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}
