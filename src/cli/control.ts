/** `ballast control`: the control plane alone, for hosts whose agents run elsewhere. */
import { parseArgs } from "node:util";
import { createLogger } from "../util/logger.js";
import { CONTROL_PLANE_FLAGS, controlPlaneFlagOptions, startControlPlane } from "./control-plane.js";
import { agentTlsFlags } from "./fleet-flags.js";

export async function controlCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONTROL_PLANE_FLAGS,
      host: { type: "string", default: "127.0.0.1" },
      zones: { type: "string", default: "us-east-1a,us-east-1b" },
      "agent-tls": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
    },
  });
  const logger = createLogger({ component: "control" });
  const cp = await startControlPlane({
    ...controlPlaneFlagOptions(values),
    host: values.host,
    zones: values.zones.split(",").map((z) => z.trim()),
    agentTls: agentTlsFlags(values["agent-tls"], values["tls-cert"], values["tls-key"]),
    env: process.env,
    logger,
  });
  console.log(
    `control plane: API ${cp.apiUrl}, agent channel ${cp.agentUrl}, DNS ${values.host}:${cp.dnsPort}, metrics ${cp.metricsUrl}`,
  );
  if (cp.agentCaFile !== undefined)
    console.log(`agents verify the agent channel with --ca ${cp.agentCaFile}`);
  const stop = (): void => {
    cp.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
