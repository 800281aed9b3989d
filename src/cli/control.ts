/** `ballast control`: the control plane alone, for hosts whose agents run elsewhere. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../util/logger.js";
import { intFlag } from "./args.js";
import { backupFlags, retentionFlag, startControlPlane } from "./control-plane.js";

export async function controlCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string", default: "./data" },
      store: { type: "string", default: "sqlite" },
      host: { type: "string", default: "127.0.0.1" },
      "api-port": { type: "string" },
      "agent-port": { type: "string" },
      "dns-port": { type: "string" },
      region: { type: "string", default: "us-east-1" },
      "dns-domain": { type: "string", default: "ballast.internal" },
      "backup-interval": { type: "string" },
      "backup-keep": { type: "string" },
      "retention-days": { type: "string" },
      zones: { type: "string", default: "us-east-1a,us-east-1b" },
    },
  });
  const logger = createLogger({ component: "control" });
  const cp = await startControlPlane({
    dataDir: resolve(values["data-dir"]),
    store: values.store,
    host: values.host,
    apiPort: intFlag(values["api-port"], "api-port", 9700),
    agentPort: intFlag(values["agent-port"], "agent-port", 9701),
    dnsPort: intFlag(values["dns-port"], "dns-port", 8053),
    region: values.region,
    dnsDomain: values["dns-domain"],
    zones: values.zones.split(",").map((z) => z.trim()),
    env: process.env,
    logger,
    ...backupFlags(values["backup-interval"], values["backup-keep"]),
    ...retentionFlag(values["retention-days"]),
  });
  console.log(`control plane: API ${cp.apiUrl}, agent channel ${cp.agentUrl}, DNS 127.0.0.1:${cp.dnsPort}`);
  const stop = (): void => {
    cp.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
