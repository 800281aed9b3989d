/**
 * `ballast agent`: one load-balancer node agent in this process. A pid file in the agent's data
 * directory makes a new agent for the same directory take over from one left running (an agent
 * outlives a control plane that crashed, by design).
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { Agent } from "../agent/agent.js";
import { limitsFor, openFileLimit } from "../proxy/connection-budget.js";
import { createLogger } from "../util/logger.js";
import { liveAgentPid } from "./agent-pid.js";
import { countFlag, intFlag, requireFlag, UsageError } from "./args.js";
import { parseCommand } from "./command.js";
import { AGENT } from "./specs/system.js";

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(AGENT, argv);
  const fileLimit = openFileLimit() ?? 1024;
  const derived = limitsFor(fileLimit);
  const connectionLimits = {
    maxConnections: countFlag(values["max-connections"], "max-connections", derived.maxConnections),
    maxNodeConnections: countFlag(
      values["max-node-connections"],
      "max-node-connections",
      derived.maxNodeConnections,
    ),
  };
  const zone = requireFlag(values.zone, "zone");
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  const token = (await readFile(requireFlag(values["token-file"], "token-file"), "utf8")).trim();
  const logger = createLogger({ component: "agent", zone });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await takeOver(join(dataDir, "agent.pid"), dataDir);

  const agent = new Agent({
    agentId: values.id ?? `agent-${zone}`,
    zone,
    pool: requireFlag(values.pool, "pool"),
    dataDir,
    // Several replicas: --control URL1,URL2 (the agent moves to the next when one fails).
    controlUrls: requireFlag(values.control, "control")
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== ""),
    token,
    logger,
    metricsPort: intFlag(values["metrics-port"], "metrics-port", 0),
    ...(values.region === undefined ? {} : { region: values.region }),
    connectionLimits,
    ...(values.dns === undefined
      ? {}
      : { dns: { ...hostPort(values.dns), domain: `elb.${values["dns-domain"]}` } }),
  });
  await agent.start();
  logger.info("agent started", {
    pid: process.pid,
    revision: agent.revision,
    fileLimit,
    ...connectionLimits,
  });

  const stop = (signal: string): void => {
    logger.info("agent stopping", { signal });
    agent
      .stop()
      .then(() => rm(join(dataDir, "agent.pid"), { force: true }))
      .then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error("agent stop failed", { err: e });
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

/** `--dns 127.0.1.254:8053`: where the agent answers DNS. */
function hostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = value.slice(0, i);
  if (i <= 0 || isIP(host) === 0) throw new UsageError(`--dns must be ADDRESS:PORT, got ${value}`);
  return { host, port: intFlag(value.slice(i + 1), "dns", 0) };
}

async function takeOver(pidFile: string, dataDir: string): Promise<void> {
  const old = await liveAgentPid(dataDir);
  if (old !== undefined) {
    process.kill(old, "SIGTERM");
    for (let i = 0; i < 100 && alive(old); i++) await new Promise((r) => setTimeout(r, 50));
    if (alive(old)) process.kill(old, "SIGKILL");
  }
  await writeFile(pidFile, `${process.pid}\n`, { mode: 0o600 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
