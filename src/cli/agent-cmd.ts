/**
 * `ballast agent`: one load-balancer node agent. By default this process is the agent's keeper
 * (agent-keeper-cmd.ts), which owns the listening sockets and runs the agent as a worker process
 * (`--worker`), so a restart, an upgrade or a crash of the agent refuses no connection.
 * `--single-process` runs the agent in this process alone; `--reload` replaces a running agent's
 * worker, `--upgrade` its keeper too (the keeper hands its sockets to a new one). A pid file in the data directory makes a new agent for the same directory take over
 * from one left running (an agent outlives a control plane that crashed, by design).
 */
import { mkdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { type AgentCredentials, agentBearer, parseAgentCredentials } from "../model/agent-keys.js";
import { createLogger } from "../util/logger.js";
import { parseListenAddress } from "../util/observability-server.js";
import { reloadAgent, runKeeper, upgradeAgent } from "./agent-keeper-cmd.js";
import { countFlag, intFlag, requireFlag, UsageError } from "./args.js";
import { type FlagValues, parseCommand } from "./command.js";
import { AGENT } from "./specs/system.js";

/** Seconds an old worker drains its connections after a reload (ELB's default idle timeout is 60). */
export const DEFAULT_DRAIN_SECONDS = 30;

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(AGENT, argv);
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  if (values.reload && values.upgrade)
    throw new UsageError("--reload and --upgrade are two actions: give one");
  if (values.reload) return reloadAgent(dataDir);
  if (values.upgrade) return upgradeAgent(dataDir);
  // Read here, in the keeper too: a worker that cannot start would be restarted forever.
  const own = await agentIdentity(values);
  const zone = own.zone;
  requireFlag(values.pool, "pool");
  if (own.control === undefined) requireFlag(values.control, "control");
  countFlag(values.nofile, "nofile", 1);
  const drainMs = countFlag(values["drain-timeout"], "drain-timeout", DEFAULT_DRAIN_SECONDS) * 1000;
  if (values.dns !== undefined) dnsHostPort(values.dns);
  metricsListenFlag(values["metrics-listen"], values["metrics-port"]);
  const logger = createLogger({ component: "agent", zone });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (values.worker && process.send === undefined)
    throw new UsageError("--worker is started by the agent's keeper only");
  if (!values.worker && !values["single-process"]) return runKeeper(argv, { dataDir, zone, logger, drainMs });
  // The agent itself loads only here: the keeper stays small and starts fast.
  const { runAgent } = await import("./agent-worker.js");
  await runAgent(values, logger, own);
}

export type AgentFlags = FlagValues<typeof AGENT.flags>;

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

/** Who the agent is to the control plane, and the CA it trusts the control plane's TLS with. */
export interface AgentIdentity {
  readonly zone: string;
  readonly token: string;
  readonly name?: string;
  readonly control?: readonly string[];
  readonly ca?: string;
}

/**
 * Its own key (`--credentials`, from `ballast agents add`: name and zone come with it) or the
 * shared token of a one-host `ballast up` (`--token-file`); `--ca` for a control plane on TLS.
 */
export async function agentIdentity(values: AgentFlags): Promise<AgentIdentity> {
  const ca = values.ca === undefined ? undefined : await readPem(values.ca, "ca");
  const withCa = ca === undefined ? {} : { ca };
  const credentialsFile = values.credentials;
  const zoneFlag = values.zone;
  if (credentialsFile !== undefined) {
    const text = await readFile(credentialsFile, "utf8").catch((e: unknown) => {
      throw new UsageError(`--credentials ${credentialsFile}: ${(e as Error).message}`);
    });
    let creds: AgentCredentials;
    try {
      creds = parseAgentCredentials(JSON.parse(text));
    } catch (e) {
      throw new UsageError(`--credentials ${credentialsFile}: ${(e as Error).message}`);
    }
    if (zoneFlag !== undefined && zoneFlag !== creds.zone)
      throw new UsageError(
        `--zone ${zoneFlag} differs from the zone of agent ${creds.name}'s key (${creds.zone})`,
      );
    return {
      zone: creds.zone,
      token: agentBearer(creds.name, creds.secret),
      name: creds.name,
      ...(creds.control === undefined ? {} : { control: creds.control }),
      ...withCa,
    };
  }
  const tokenFile = values["token-file"];
  if (tokenFile === undefined)
    throw new UsageError("an agent needs --credentials FILE (or --token-file FILE on one host)");
  const token = await readFile(tokenFile, "utf8").catch((e: unknown) => {
    throw new UsageError(`--token-file ${tokenFile}: ${(e as Error).message}`);
  });
  return { zone: requireFlag(zoneFlag, "zone"), token: token.trim(), ...withCa };
}

async function readPem(file: string, flag: string): Promise<string> {
  const text = await readFile(file, "utf8").catch((e: unknown) => {
    throw new UsageError(`--${flag} ${file}: ${(e as Error).message}`);
  });
  if (!text.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`--${flag} ${file} holds no PEM certificate`);
  return text;
}
