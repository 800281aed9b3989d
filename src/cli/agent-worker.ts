/**
 * The agent itself: under its keeper (`--worker`: sockets from the keeper, drains and exits when
 * replaced) or alone in this process (`--single-process`).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "../agent/agent.js";
import { KeeperSockets } from "../agent/keeper-sockets.js";
import { limitsFor, openFileLimit } from "../proxy/connection-budget.js";
import type { Logger } from "../util/logger.js";
import { type AgentFlags, type AgentIdentity, dnsHostPort, metricsListenFlag } from "./agent-cmd.js";
import { onStopSignals, takeOver, WORKER_CRASHES_ENV, WORKER_STARTS_ENV } from "./agent-keeper-cmd.js";
import { countFlag, requireFlag } from "./args.js";

/** Open connections get this long to finish when the agent is stopped. */
const STOP_GRACE_MS = 5000;

export async function runAgent(values: AgentFlags, logger: Logger, own: AgentIdentity): Promise<void> {
  // Timestamps of the start, in ms since this process started (docs/BENCHMARKS.md, cold start).
  logger.debug("agent modules loaded", { sinceStartMs: Math.round(performance.now()) });
  if (values.worker) return runWorker(values, logger, own);
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  await takeOver(dataDir);
  const agent = await startAgent(values, logger, own);
  onStopSignals(logger, () =>
    agent.stop(STOP_GRACE_MS).then(() => rm(join(dataDir, "agent.pid"), { force: true })),
  );
}

/** The agent as its keeper's worker: sockets from the keeper, drains and exits when replaced. */
async function runWorker(values: AgentFlags, logger: Logger, own: AgentIdentity): Promise<void> {
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
  agent = await startAgent(values, logger, own, sockets);
}

async function startAgent(
  values: AgentFlags,
  logger: Logger,
  own: AgentIdentity,
  sockets?: KeeperSockets,
): Promise<Agent> {
  const zone = own.zone;
  const fileLimit = openFileLimit() ?? 1024;
  const wanted = countFlag(values.nofile, "nofile", 1);
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
  const agent = new Agent({
    agentId: own.name ?? values.id ?? `agent-${zone}`,
    zone,
    pool: requireFlag(values.pool, "pool"),
    dataDir: requireFlag(values["data-dir"], "data-dir"),
    // Several replicas: --control URL1,URL2 (the agent moves to the next when one fails).
    controlUrls: (values.control ?? own.control?.join(",") ?? requireFlag(values.control, "control"))
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== ""),
    token: own.token,
    ...(own.ca === undefined ? {} : { ca: own.ca }),
    logger,
    ...metricsListenFlag(values["metrics-listen"], values["metrics-port"]),
    ...(values.region === undefined ? {} : { region: values.region }),
    connectionLimits,
    ...(values.dns === undefined
      ? {}
      : { dns: { ...dnsHostPort(values.dns), domain: `elb.${values["dns-domain"]}` } }),
    ...(sockets === undefined ? {} : { sockets, dnsSockets: sockets, onServing: () => sockets.ready() }),
    ...(sockets === undefined
      ? {}
      : {
          workers: {
            starts: Number(process.env[WORKER_STARTS_ENV] ?? 1),
            crashes: Number(process.env[WORKER_CRASHES_ENV] ?? 0),
          },
        }),
  });
  await agent.start();
  logger.info("agent started", {
    pid: process.pid,
    sinceStartMs: Math.round(performance.now()),
    revision: agent.revision,
    fileLimit,
    ...connectionLimits,
  });
  return agent;
}
