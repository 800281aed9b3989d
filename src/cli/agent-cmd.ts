/**
 * `ballast agent`: one load-balancer node agent. By default this process is the agent's keeper
 * (agent-keeper-cmd.ts), which owns the listening sockets and runs the agent as a worker process
 * (`--worker`), so a restart, an upgrade or a crash of the agent refuses no connection.
 * `--single-process` runs the agent in this process alone; `--reload` replaces a running agent's
 * worker. A pid file in the data directory makes a new agent for the same directory take over
 * from one left running (an agent outlives a control plane that crashed, by design).
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "../agent/agent.js";
import { KeeperSockets } from "../agent/keeper-sockets.js";
import { limitsFor, openFileLimit } from "../proxy/connection-budget.js";
import { createLogger, type Logger } from "../util/logger.js";
import { reloadAgent, runKeeper, takeOver } from "./agent-keeper-cmd.js";
import { countFlag, intFlag, requireFlag, UsageError } from "./args.js";

export const AGENT_FLAGS = {
  zone: { type: "string" },
  pool: { type: "string" },
  control: { type: "string" },
  "token-file": { type: "string" },
  "data-dir": { type: "string" },
  id: { type: "string" },
  "metrics-port": { type: "string" },
  region: { type: "string" },
  "max-connections": { type: "string" },
  dns: { type: "string" },
  "dns-domain": { type: "string", default: "ballast.internal" },
  "max-node-connections": { type: "string" },
  nofile: { type: "string" },
  "drain-timeout": { type: "string" },
  "single-process": { type: "boolean", default: false },
  worker: { type: "boolean", default: false },
  reload: { type: "boolean", default: false },
} as const;

/** Seconds an old worker drains its connections after a reload (ELB's default idle timeout is 60). */
export const DEFAULT_DRAIN_SECONDS = 30;
/** Seconds open connections get to finish when the agent is stopped. */
const STOP_GRACE_MS = 5000;

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: AGENT_FLAGS });
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  if (values.reload) return reloadAgent(dataDir);
  const zone = requireFlag(values.zone, "zone");
  requireFlag(values.pool, "pool");
  requireFlag(values.control, "control");
  const tokenFile = requireFlag(values["token-file"], "token-file");
  intFlag(values.nofile, "nofile", 0);
  const drainMs = intFlag(values["drain-timeout"], "drain-timeout", DEFAULT_DRAIN_SECONDS) * 1000;
  if (values.dns !== undefined) hostPort(values.dns);
  const logger = createLogger({ component: "agent", zone });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (values.worker) {
    if (process.send === undefined) throw new UsageError("--worker is started by the agent's keeper only");
    return runWorker(values, logger, tokenFile);
  }
  if (!values["single-process"]) return runKeeper(argv, { dataDir, zone, logger, drainMs });
  await takeOver(dataDir);
  const agent = await startAgent(values, logger, tokenFile);
  onStopSignals(logger, () =>
    agent.stop(STOP_GRACE_MS).then(() => rm(join(dataDir, "agent.pid"), { force: true })),
  );
}

type AgentFlags = ReturnType<typeof parseArgs<{ args: string[]; options: typeof AGENT_FLAGS }>>["values"];

/** The agent as its keeper's worker: sockets from the keeper, drains and exits when replaced. */
async function runWorker(values: AgentFlags, logger: Logger, tokenFile: string): Promise<void> {
  let stopping: Promise<void> | undefined;
  let agent: Agent | undefined;
  const stop = (reason: string, graceMs: number): void => {
    if (stopping !== undefined) return;
    logger.info("agent worker stopping", { reason, graceMs });
    stopping = (agent?.stop(graceMs) ?? Promise.resolve()).then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error("agent stop failed", { err: e });
        process.exit(1);
      },
    );
  };
  const sockets = new KeeperSockets(
    (m) => process.send?.(m),
    (cb) => process.on("message", cb),
    (graceMs) => stop("replaced by a new worker", graceMs),
  );
  // The keeper is gone (killed): its successor binds these ports afresh, so let them go.
  process.once("disconnect", () => stop("keeper gone", STOP_GRACE_MS));
  process.once("SIGTERM", () => stop("SIGTERM", STOP_GRACE_MS));
  process.once("SIGINT", () => stop("SIGINT", STOP_GRACE_MS));
  agent = await startAgent(values, logger, tokenFile, sockets);
}

async function startAgent(
  values: AgentFlags,
  logger: Logger,
  tokenFile: string,
  sockets?: KeeperSockets,
): Promise<Agent> {
  const zone = requireFlag(values.zone, "zone");
  const fileLimit = openFileLimit() ?? 1024;
  const wanted = intFlag(values.nofile, "nofile", 0);
  if (wanted > fileLimit)
    logger.warn("open-file limit below --nofile (raising the hard limit needs root)", { fileLimit, wanted });
  const derived = limitsFor(fileLimit);
  const connectionLimits = {
    maxConnections: countFlag(values["max-connections"], "max-connections", derived.maxConnections),
    maxNodeConnections: countFlag(
      values["max-node-connections"],
      "max-node-connections",
      derived.maxNodeConnections,
    ),
  };
  const token = (await readFile(tokenFile, "utf8")).trim();
  const agent = new Agent({
    agentId: values.id ?? `agent-${zone}`,
    zone,
    pool: requireFlag(values.pool, "pool"),
    dataDir: requireFlag(values["data-dir"], "data-dir"),
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
    ...(sockets === undefined ? {} : { sockets, onServing: () => sockets.ready() }),
  });
  await agent.start();
  logger.info("agent started", {
    pid: process.pid,
    revision: agent.revision,
    fileLimit,
    ...connectionLimits,
  });
  return agent;
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

/** `--dns 127.0.1.254:8053`: where the agent answers DNS. */
function hostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = value.slice(0, i);
  if (i <= 0 || isIP(host) === 0) throw new UsageError(`--dns must be ADDRESS:PORT, got ${value}`);
  return { host, port: intFlag(value.slice(i + 1), "dns", 0) };
}
