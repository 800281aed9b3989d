/**
 * `ballast up`: a whole working system in the foreground — control plane, two agents as
 * separate processes, the DNS responder, and with --demo a load balancer to curl.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lastAddress } from "../agent/address-pool.js";
import { regionalKey } from "../model/region.js";
import { createLogger } from "../util/logger.js";
import { liveAgentPid } from "./agent-pid.js";
import { intFlag, UsageError } from "./args.js";
import { parseCommand } from "./command.js";
import { startControlPlane } from "./control-plane.js";
import { controlPlaneFlagOptions } from "./control-plane-flags.js";
import { DEMO_LB, type Demo, startDemo } from "./demo.js";
import { checkPortsFree, type PortNeed } from "./ports.js";
import { ScrapeTargets } from "./scrape-targets.js";
import { readCredentialsFile, SignedClient } from "./signed-client.js";
import { UP } from "./specs/system.js";
import { Supervisor } from "./supervisor.js";

/** Each agent's open-file limit: its connection caps are derived from it (connection-budget.ts). */
const AGENT_NOFILE = 65_536;

export async function upCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(UP, argv);
  const flagged = controlPlaneFlagOptions(values);
  const dataDir = flagged.dataDir;
  const agents = parseAgents(values.agents);
  // Agent i serves /metrics on 127.0.0.1:base+i (9711, 9712… with --agent-metrics-port-base
  // 9711); by default on a free port each, found through the address file the agent writes.
  const metricsBase = intFlag(values["agent-metrics-port-base"], "agent-metrics-port-base", 0);
  const demoPort = values.demo
    ? intFlag(values["demo-port"], "demo-port", process.getuid?.() === 0 ? 80 : 8000)
    : 0;
  // Every port, before anything is created: a busy one leaves no data directory behind.
  await checkPortsFree(await portsOf(flagged, agents, metricsBase));
  const logger = createLogger({ component: "control" });
  await mkdir(join(dataDir, "logs"), { recursive: true, mode: 0o700 });

  const cp = await startControlPlane({
    ...flagged,
    host: "127.0.0.1",
    zones: agents.map((a) => a.zone),
    env: process.env,
    logger,
  });

  const mainJs = fileURLToPath(new URL("./main.js", import.meta.url));
  const supervisor = new Supervisor(mainJs, logger);
  const agentDir = (zone: string): string => join(dataDir, "agents", zone);
  const metricsUrl = new URL(cp.metricsUrl);
  const targets = new ScrapeTargets({
    dataDir,
    control: metricsUrl.host,
    region: values.region,
    agents: agents.map((a) => ({ zone: a.zone, dataDir: agentDir(a.zone) })),
    logger,
  });
  await targets.clearAgentAddresses();
  for (const [i, a] of agents.entries()) {
    supervisor.start({
      zone: a.zone,
      logFile: join(dataDir, "logs", `agent-${a.zone}.log`),
      args: [
        "--zone",
        a.zone,
        "--pool",
        a.pool,
        "--control",
        cp.agentUrl,
        "--token-file",
        join(dataDir, "agent-token"),
        "--data-dir",
        agentDir(a.zone),
        "--region",
        values.region,
        "--dns",
        `${lastAddress(a.pool)}:${cp.dnsPort}`,
        "--dns-domain",
        values["dns-domain"],
        "--metrics-listen",
        `127.0.0.1:${metricsBase > 0 ? metricsBase + i : 0}`,
        // As root the hard limit is raised too; otherwise the agent takes what the hard limit allows.
        "--nofile",
        String(AGENT_NOFILE),
      ],
    });
  }

  let demo: Demo | undefined;
  let shuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`\n${signal}: stopping agents and the control plane…`);
    targets.stop();
    await supervisor.stop();
    await demo?.close();
    await cp.close();
    console.log("Ballast stopped. State is kept in", dataDir);
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  // SIGUSR2: restart (or upgrade) every agent without refusing a connection.
  process.on("SIGUSR2", () => supervisor.reload());

  const agentMetrics = await targets.waitForAgents(15_000);
  const targetsFile = await targets.write();
  targets.watch();

  const credentialsFile = cp.credentialsFile;
  const credentialsHint = credentialsFile
    ? `AWS_SHARED_CREDENTIALS_FILE=${credentialsFile} AWS_PROFILE=ballast`
    : "AWS_ACCESS_KEY_ID=$BALLAST_BOOTSTRAP_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY";
  console.log(`Ballast control plane
  AWS ELB API      ${cp.apiUrl}   (every region; the agents' zones are in ${values.region})
  web console      ${cp.apiUrl}/console/  (sign in with an access key)
  agent channel    ${cp.agentUrl}
  DNS responder    127.0.0.1:${cp.dnsPort} (UDP and TCP), names under elb.${values["dns-domain"]}
  data directory   ${dataDir}
  administrator    ${cp.accessKeyId}${credentialsFile ? `  (credentials in ${credentialsFile})` : "  (from BALLAST_BOOTSTRAP_* env)"}
  agents           ${agents.map((a) => `${a.zone} pool ${a.pool}`).join(", ")}  (logs in ${join(dataDir, "logs")})
  agents' DNS      ${agents.map((a) => `${lastAddress(a.pool)}:${cp.dnsPort}`).join(", ")}  (answer without the control plane)
  metrics          ${cp.metricsUrl}  (control plane; /healthz and /readyz on the API port)
${agents.map((a, i) => `  agent metrics    ${a.zone} http://${agentMetrics[i] ?? "(not listening yet)"}/metrics`).join("\n")}
  scrape targets   ${targetsFile}  (Prometheus file_sd_configs)

Try it with the AWS CLI:
  ${credentialsHint} \\
    aws elb describe-load-balancers --endpoint-url ${cp.apiUrl} --region ${values.region}`);
  if (cp.twoPersonHint !== undefined) console.log(`\n${cp.twoPersonHint}`);

  if (values.demo) {
    if (!credentialsFile) throw new UsageError("--demo needs the generated bootstrap credentials file");
    const client = new SignedClient(cp.apiUrl, await readCredentialsFile(credentialsFile), values.region);
    const port = demoPort;
    const since = Date.now();
    demo = await startDemo(client, port);
    // The demo's back ends sit in both zones, but with cross-zone load balancing off (ELB's
    // default for an API-created load balancer) each node would reach only its own zone's:
    // curling the one address printed below would never show back end 2. On, as the AWS console
    // creates a Classic ELB, every node spreads requests over all three, as the banner says.
    await client.query("ModifyLoadBalancerAttributes", {
      LoadBalancerName: DEMO_LB,
      "LoadBalancerAttributes.CrossZoneLoadBalancing.Enabled": "true",
    });
    const lb = await cp.store.get("loadBalancer", regionalKey(values.region, DEMO_LB));
    const node = await waitForServingNode(cp, DEMO_LB, since, 20_000);
    const portSuffix = port === 80 ? "" : `:${port}`;
    console.log(`
Demo load balancer "${DEMO_LB}" with three back ends in two zones, cross-zone load balancing on:
  DNS name   ${lb?.doc.dnsName}
  resolve    dig @127.0.0.1 -p ${cp.dnsPort} +short ${lb?.doc.dnsName}
  curl       curl http://${node ?? "<node address>"}${portSuffix}/`);
  }
  console.log("\nBallast is up. Ctrl-C stops every process it started.");
}

/**
 * The address of a node that serves the load balancer: every listener bound and an InService
 * back end to route to (a node reporting no count is taken to have one), as reported to this
 * control plane since `since`. After `timeoutMs`, a bound node that routes nowhere yet, if any.
 */
async function waitForServingNode(
  cp: Awaited<ReturnType<typeof startControlPlane>>,
  lb: string,
  since: number,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let bound: string | undefined;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const nodes = (await cp.store.agentStatuses())
      .filter((s) => Date.parse(s.time) >= since)
      .flatMap((s) => s.nodes)
      .filter((n) => n.loadBalancer === lb && n.listeners.length > 0 && n.listeners.every((l) => l.bound))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    const serving = nodes.find((n) => n.routableInService === undefined || n.routableInService > 0);
    if (serving) return serving.address;
    bound = nodes[0]?.address ?? bound;
    await new Promise((r) => setTimeout(r, 200));
  }
  return bound;
}

/**
 * The ports `up` listens on: the control plane's, and the agents' DNS and metrics — except those
 * of an agent still running from an earlier `up` on this data directory (agents outlive a
 * control plane by design): the new agent takes over from it, and its ports with it.
 */
async function portsOf(
  cp: { dataDir: string; apiPort: number; agentPort: number; dnsPort: number },
  agents: readonly { zone: string; pool: string }[],
  metricsBase: number,
): Promise<PortNeed[]> {
  const host = "127.0.0.1";
  const running = await Promise.all(agents.map((a) => liveAgentPid(join(cp.dataDir, "agents", a.zone))));
  return [
    { what: "the AWS ELB API", flag: "--api-port", host, port: cp.apiPort },
    { what: "the agent channel", flag: "--agent-port", host, port: cp.agentPort },
    { what: "the DNS responder", flag: "--dns-port", host, port: cp.dnsPort, udp: true },
    ...agents.flatMap((a, i): PortNeed[] =>
      running[i] !== undefined
        ? []
        : [
            {
              what: `the ${a.zone} agent's DNS`,
              flag: "--dns-port",
              host: lastAddress(a.pool),
              port: cp.dnsPort,
              udp: true,
            },
            ...(metricsBase > 0
              ? [
                  {
                    what: `the ${a.zone} agent's metrics`,
                    flag: "--agent-metrics-port-base",
                    host,
                    port: metricsBase + i,
                  },
                ]
              : []),
          ],
    ),
  ];
}

function parseAgents(spec: string): { zone: string; pool: string }[] {
  const agents = spec.split(",").map((part) => {
    const [zone, pool] = part.split("=");
    if (!zone || !pool) throw new UsageError(`--agents takes zone=cidr[,zone=cidr…], got ${part}`);
    return { zone: zone.trim(), pool: pool.trim() };
  });
  if (agents.length === 0) throw new UsageError("--agents names no agent");
  return agents;
}
