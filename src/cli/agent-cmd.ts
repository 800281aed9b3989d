/**
 * `ballast agent`: one load-balancer node agent. By default this process is the agent's keeper
 * (agent-keeper-cmd.ts), which owns the listening sockets and runs the agent as a worker process
 * (`--worker`), so a restart, an upgrade or a crash of the agent refuses no connection.
 * `--single-process` runs the agent in this process alone; `--reload` replaces a running agent's
 * worker. A pid file in the data directory makes a new agent for the same directory take over
 * from one left running (an agent outlives a control plane that crashed, by design).
 */
import { constants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { createLogger } from "../util/logger.js";
import { parseListenAddress } from "../util/observability-server.js";
import { reloadAgent, runKeeper } from "./agent-keeper-cmd.js";
import { countFlag, intFlag, requireFlag, UsageError } from "./args.js";

export const AGENT_FLAGS = {
  zone: { type: "string" },
  pool: { type: "string" },
  control: { type: "string" },
  "token-file": { type: "string" },
  "data-dir": { type: "string" },
  id: { type: "string" },
  "metrics-listen": { type: "string", default: "127.0.0.1:0" },
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

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: AGENT_FLAGS });
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  if (values.reload) return reloadAgent(dataDir);
  const zone = requireFlag(values.zone, "zone");
  requireFlag(values.pool, "pool");
  requireFlag(values.control, "control");
  const tokenFile = requireFlag(values["token-file"], "token-file");
  countFlag(values.nofile, "nofile", 1);
  const drainMs = countFlag(values["drain-timeout"], "drain-timeout", DEFAULT_DRAIN_SECONDS) * 1000;
  if (values.dns !== undefined) dnsHostPort(values.dns);
  metricsListenFlag(values["metrics-listen"], values["metrics-port"]);
  const logger = createLogger({ component: "agent", zone });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (values.worker && process.send === undefined)
    throw new UsageError("--worker is started by the agent's keeper only");
  // A worker that cannot start would be restarted forever: say what is wrong here, once.
  await access(tokenFile, constants.R_OK).catch(() => {
    throw new UsageError(`--token-file ${tokenFile} cannot be read`);
  });
  if (!values.worker && !values["single-process"]) return runKeeper(argv, { dataDir, zone, logger, drainMs });
  // The agent itself loads only here: the keeper stays small and starts fast.
  const { runAgent } = await import("./agent-worker.js");
  await runAgent(values, logger, tokenFile);
}

export type AgentFlags = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof AGENT_FLAGS }>
>["values"];

/** `--dns 127.0.1.254:8053`: where the agent answers DNS. */
export function dnsHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = value.slice(0, i);
  if (i <= 0 || isIP(host) === 0) throw new UsageError(`--dns must be ADDRESS:PORT, got ${value}`);
  return { host, port: intFlag(value.slice(i + 1), "dns", 0) };
}

/**
 * `--metrics-listen HOST:PORT` (default 127.0.0.1:0, a free port written to
 * `<data-dir>/metrics-address`), or `off`; `--metrics-port N` is short for 127.0.0.1:N.
 */
export function metricsListenFlag(
  listen: string,
  port: string | undefined,
): { metricsListen?: { host: string; port: number } } {
  if (port !== undefined)
    return { metricsListen: { host: "127.0.0.1", port: intFlag(port, "metrics-port", 0) } };
  if (listen === "off") return {};
  const parsed = parseListenAddress(listen);
  if (parsed === undefined || isIP(parsed.host) === 0)
    throw new UsageError(`--metrics-listen must be ADDRESS:PORT (or off), got ${listen}`);
  return { metricsListen: parsed };
}
