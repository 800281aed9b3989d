/** The agent left running for a data directory, as its pid file names it. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The pid of a live agent of `dataDir` other than this process, if any. Pids are reused, so the
 * process's command line must still be an agent's for this directory.
 */
export async function liveAgentPid(dataDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dataDir, "agent.pid"), "utf8").catch(() => "")).trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("agent") && cmdline.includes(dataDir) ? pid : undefined;
}
