/**
 * `ballast agent`: one load-balancer node agent in this process. A pid file in the agent's data
 * directory makes a new agent for the same directory take over from one left running (an agent
 * outlives a control plane that crashed, by design).
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "../agent/agent.js";
import { type AgentCredentials, agentBearer, parseAgentCredentials } from "../model/agent-keys.js";
import { limitsFor, openFileLimit } from "../proxy/connection-budget.js";
import { createLogger } from "../util/logger.js";
import { parseListenAddress } from "../util/observability-server.js";
import { countFlag, intFlag, requireFlag, UsageError } from "./args.js";

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      zone: { type: "string" },
      pool: { type: "string" },
      control: { type: "string" },
      "token-file": { type: "string" },
      credentials: { type: "string" },
      ca: { type: "string" },
      "data-dir": { type: "string" },
      id: { type: "string" },
      "metrics-listen": { type: "string", default: "127.0.0.1:0" },
      "metrics-port": { type: "string" },
      region: { type: "string" },
      "max-connections": { type: "string" },
      dns: { type: "string" },
      "dns-domain": { type: "string", default: "ballast.internal" },
      "max-node-connections": { type: "string" },
    },
  });
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
  const own = await agentIdentity(values.credentials, values["token-file"], values.zone);
  const zone = own.zone;
  const dataDir = requireFlag(values["data-dir"], "data-dir");
  const token = own.token;
  const ca = values.ca === undefined ? undefined : await readPem(values.ca, "ca");
  const logger = createLogger({ component: "agent", zone });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await takeOver(join(dataDir, "agent.pid"), dataDir);

  const agent = new Agent({
    agentId: own.name ?? values.id ?? `agent-${zone}`,
    zone,
    pool: requireFlag(values.pool, "pool"),
    dataDir,
    // Several replicas: --control URL1,URL2 (the agent moves to the next when one fails).
    controlUrls: (values.control ?? own.control?.join(",") ?? requireFlag(values.control, "control"))
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== ""),
    token,
    ...(ca === undefined ? {} : { ca }),
    logger,
    ...metricsListenFlag(values["metrics-listen"], values["metrics-port"]),
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

/**
 * `--metrics-listen HOST:PORT` (default 127.0.0.1:0, a free port written to
 * `<data-dir>/metrics-address`), or `off`; `--metrics-port N` is short for 127.0.0.1:N.
 */
function metricsListenFlag(
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

/**
 * Who the agent is to the control plane: its own key (`--credentials`, from `ballast agents add`:
 * name and zone come with it) or the shared token of a one-host `ballast up` (`--token-file`).
 */
async function agentIdentity(
  credentialsFile: string | undefined,
  tokenFile: string | undefined,
  zoneFlag: string | undefined,
): Promise<{ zone: string; token: string; name?: string; control?: readonly string[] }> {
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
    };
  }
  if (tokenFile === undefined)
    throw new UsageError("an agent needs --credentials FILE (or --token-file FILE on one host)");
  return { zone: requireFlag(zoneFlag, "zone"), token: (await readFile(tokenFile, "utf8")).trim() };
}

async function readPem(file: string, flag: string): Promise<string> {
  const text = await readFile(file, "utf8").catch((e: unknown) => {
    throw new UsageError(`--${flag} ${file}: ${(e as Error).message}`);
  });
  if (!text.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`--${flag} ${file} holds no PEM certificate`);
  return text;
}

/** `--dns 127.0.1.254:8053`: where the agent answers DNS. */
function hostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = value.slice(0, i);
  if (i <= 0 || isIP(host) === 0) throw new UsageError(`--dns must be ADDRESS:PORT, got ${value}`);
  return { host, port: intFlag(value.slice(i + 1), "dns", 0) };
}

async function takeOver(pidFile: string, dataDir: string): Promise<void> {
  const old = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  // The pid must still be an agent of this directory: pids are reused.
  const cmdline = await readFile(`/proc/${old}/cmdline`, "utf8").catch(() => "");
  if (old > 0 && old !== process.pid && cmdline.includes("agent") && cmdline.includes(dataDir)) {
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
