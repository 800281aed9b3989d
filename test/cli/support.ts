/** Runs the real `ballast` command (dist/src/cli/main.js) as a child process. */
import { execFile } from "node:child_process";
import { resolve } from "node:path";

export const MAIN_JS = resolve(import.meta.dirname, "../../src/cli/main.js");

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ballast <args>` with `env` added to a copy of this process's environment minus AWS keys. */
export function ballast(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const base = { ...process.env };
  delete base.AWS_ACCESS_KEY_ID;
  delete base.AWS_SECRET_ACCESS_KEY;
  delete base.BALLAST_DEBUG;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN_JS, ...args],
      { env: { ...base, BALLAST_LOG_LEVEL: "warn", ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** Runs `tasks` at most `limit` at a time (the machine is shared). */
export async function inBatches<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < tasks.length; i = next++) results[i] = await (tasks[i] as () => Promise<T>)();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** One line on stderr, no stack frame. */
export function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  if (lines.length !== 1 || /^\s+at /m.test(stderr))
    throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  return lines[0] ?? "";
}
