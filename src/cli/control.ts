/** `ballast control`: the control plane alone, for hosts whose agents run elsewhere. */
import { createLogger } from "../util/logger.js";
import { parseCommand } from "./command.js";
import { startControlPlane } from "./control-plane.js";
import { controlPlaneFlagOptions } from "./control-plane-flags.js";
import { agentTlsFlags } from "./fleet-flags.js";
import { checkPortsFree } from "./ports.js";
import { CONTROL } from "./specs/system.js";

export async function controlCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(CONTROL, argv);
  const flagged = controlPlaneFlagOptions(values);
  const host = values.host;
  // Before the data directory is created: a busy port leaves nothing behind.
  await checkPortsFree([
    { what: "the AWS ELB API", flag: "--api-port", host, port: flagged.apiPort },
    { what: "the agent channel", flag: "--agent-port", host, port: flagged.agentPort },
    { what: "the DNS responder", flag: "--dns-port", host, port: flagged.dnsPort, udp: true },
  ]);
  const logger = createLogger({ component: "control" });
  const cp = await startControlPlane({
    ...flagged,
    host: values.host,
    zones: values.zones.split(",").map((z) => z.trim()),
    agentTls: agentTlsFlags(values["agent-tls"], values["tls-cert"], values["tls-key"]),
    env: process.env,
    logger,
  });
  console.log(
    `control plane: API ${cp.apiUrl}, agent channel ${cp.agentUrl}, DNS ${host}:${cp.dnsPort}, metrics ${cp.metricsUrl}`,
  );
  if (cp.agentCaFile !== undefined)
    console.log(`agents verify the agent channel with --ca ${cp.agentCaFile}`);
  const stop = (): void => {
    cp.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
