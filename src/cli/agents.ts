/**
 * `ballast agents [--json]`: the agents as their reports show them, through the signed admin API;
 * `ballast agents add NAME --zone Z [--out FILE] [--control URL]`, `agents revoke NAME` and
 * `agents keys`: the agents' own keys to the agent channel.
 */
import { open } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { AgentCredentials } from "../model/agent-keys.js";
import { UsageError } from "./args.js";
import { credentials } from "./instances.js";
import { answerJson, SignedClient } from "./signed-client.js";

interface AgentRow {
  readonly agentId: string;
  readonly zone: string;
  readonly configRevision: number;
  readonly lagRevisions: number;
  readonly fresh: boolean;
  readonly lastReport: string;
  readonly nodes: number;
  /** Nodes placement puts on it (absent from a control plane without placement). */
  readonly placed?: number;
  readonly unexplained: readonly string[];
  readonly refused?: { readonly revision: number; readonly reason: string };
}

const CLIENT_OPTIONS = {
  json: { type: "boolean", default: false },
  endpoint: { type: "string", default: "http://127.0.0.1:9700" },
  region: { type: "string", default: "us-east-1" },
  "data-dir": { type: "string", default: "./data" },
} as const;

const KEYS_USAGE =
  "usage: ballast agents add NAME --zone ZONE [--out FILE] [--control URL] | revoke NAME | keys [--json]";

interface KeyView {
  readonly name: string;
  readonly zone: string;
  readonly status: string;
  readonly createdTime: string;
  readonly createdBy: string;
  readonly revokedTime?: string;
}

export async function agentsCommand(argv: string[]): Promise<void> {
  const verb = argv[0];
  if (verb === "add" || verb === "revoke" || verb === "keys") return agentKeysCommand(verb, argv.slice(1));
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
    },
  });
  const client = new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
  const r = answerJson<{ head: number; agents: AgentRow[] }>(
    "agents",
    await client.send("GET", "/admin/v1/agents"),
  );
  if (r === undefined) return;
  const { head, agents } = r;
  if (values.json) {
    console.log(JSON.stringify({ head, agents }, null, 2));
    return;
  }
  const rows = [
    ["AGENT", "ZONE", "STATE", "REVISION", "BEHIND", "NODES", "UNEXPLAINED", "REFUSED"],
    ...agents.map((a) => [
      a.agentId,
      a.zone,
      a.fresh ? "connected" : "stale",
      String(a.configRevision),
      String(a.lagRevisions),
      a.placed === undefined || a.placed === a.nodes ? String(a.nodes) : `${a.nodes} (placed ${a.placed})`,
      String(a.unexplained.length),
      a.refused === undefined ? "-" : `revision ${a.refused.revision}: ${a.refused.reason}`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
  console.log(`journal head: revision ${head}`);
}

async function agentKeysCommand(verb: "add" | "revoke" | "keys", argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      zone: { type: "string" },
      out: { type: "string" },
      control: { type: "string" },
    },
  });
  const client = new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
  if (verb === "keys") {
    const r = answerJson<{ keys: KeyView[] }>(
      "agents keys",
      await client.send("GET", "/admin/v1/agent-keys"),
    );
    if (r === undefined) return;
    if (values.json) console.log(JSON.stringify(r.keys, null, 2));
    else
      for (const k of r.keys)
        console.log(
          `${k.name}  ${k.zone}  ${k.status}  created ${k.createdTime} by ${k.createdBy}${k.revokedTime ? `, revoked ${k.revokedTime}` : ""}`,
        );
    return;
  }
  const name = positionals[0];
  if (name === undefined || positionals.length !== 1) throw new UsageError(KEYS_USAGE);
  const path = `/admin/v1/agent-keys/${encodeURIComponent(name)}`;
  if (verb === "revoke") {
    const r = answerJson<{ key: KeyView }>("agents revoke", await client.send("POST", `${path}/revoke`));
    if (r === undefined) return;
    console.log(
      `agent ${name}: key revoked at ${r.key.revokedTime}; its next request is refused, it keeps serving what it has`,
    );
    return;
  }
  if (values.zone === undefined) throw new UsageError(KEYS_USAGE);
  const r = answerJson<{ credentials: AgentCredentials }>(
    "agents add",
    await client.send("POST", path, JSON.stringify({ zone: values.zone })),
  );
  if (r === undefined) return;
  const control = values.control
    ?.split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  const file: AgentCredentials = { ...r.credentials, ...(control && control.length > 0 ? { control } : {}) };
  const text = `${JSON.stringify(file, null, 2)}\n`;
  if (values.out === undefined) {
    process.stdout.write(text);
    return;
  }
  // The secret exists only in this file: created 0600, never over an existing one.
  const fh = await open(values.out, "wx", 0o600).catch((e: unknown) => {
    throw new UsageError(`cannot create ${values.out}: ${(e as Error).message}`);
  });
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  console.log(
    `agent ${name} (zone ${values.zone}): credentials written to ${values.out}; copy it to the agent's host (mode 0600)`,
  );
}
