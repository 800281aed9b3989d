/**
 * The entry point an agent's keeper starts its workers from (`agent-worker-main.js agent --worker
 * …`): the agent command alone, without the command table `ballast` loads to find it, and the
 * agent's own modules loaded beside the command's rather than after it. A worker's start is the
 * whole gap between a cold start and the first request served (docs/BENCHMARKS.md).
 */
import { errorLine, exitCodeOf } from "./errors.js";

const label = "ballast agent --worker";

function fail(e: unknown): never {
  process.stderr.write(`${errorLine(label, e)}\n`);
  if (process.env.BALLAST_DEBUG === "1" && e instanceof Error && e.stack)
    process.stderr.write(`${e.stack}\n`);
  process.exit(exitCodeOf(e));
}

process.on("unhandledRejection", fail);
const [command, ...rest] = process.argv.slice(2);
if (command !== "agent" || !rest.includes("--worker")) fail(new Error("started by the agent's keeper only"));
// Both graphs load at once; agent-cmd imports agent-worker only once its flags are checked.
const [{ agentCommand }] = await Promise.all([import("./agent-cmd.js"), import("./agent-worker.js")]);
await agentCommand(rest).catch(fail);
