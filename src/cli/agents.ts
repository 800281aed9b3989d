/**
 * `ballast agents [--json]`: the agents as their reports show them, through the signed admin API;
 * `ballast agents add NAME --zone Z [--out FILE] [--control URL] [--ticket ID]`, `agents revoke NAME
 * [--ticket ID]` (a change ticket once load balancers exist: api/admin/maintenance.ts) and
 * `agents keys`: the agents' own keys to the agent channel.
 */
import { open } from "node:fs/promises";
import type { AgentCredentials } from "../model/agent-keys.js";
import { signedClient } from "./client.js";
import { parseCommand } from "./command.js";
import { UsageError } from "./errors.js";
import { table } from "./output.js";
import type { SignedClient } from "./signed-client.js";
import { AGENTS } from "./specs/safety.js";

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

interface KeyView {
  readonly name: string;
  readonly zone: string;
  readonly status: string;
  readonly createdTime: string;
  readonly createdBy: string;
  readonly revokedTime?: string;
}

export async function agentsCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(AGENTS, argv);
  const client = await signedClient(values);
  if (verb === "keys") return listKeys(client, values.json);
  if (verb === "revoke") return revokeKey(client, positionals[0]);
  if (verb === "add") return addKey(client, positionals[0], values);
  const { head, agents } = await client.json<{ head: number; agents: AgentRow[] }>("GET", "/admin/v1/agents");
  if (values.json) {
    console.log(JSON.stringify({ head, agents }, null, 2));
    return;
  }
  if (agents.length === 0) {
    console.log(`no agent has reported yet; journal head: revision ${head}`);
    return;
  }
  const rows = agents.map((a) => [
    a.agentId,
    a.zone,
    a.fresh ? "connected" : "stale",
    String(a.configRevision),
    String(a.lagRevisions),
    a.placed === undefined || a.placed === a.nodes ? String(a.nodes) : `${a.nodes} (placed ${a.placed})`,
    String(a.unexplained.length),
    a.refused === undefined ? "-" : `revision ${a.refused.revision}: ${a.refused.reason}`,
  ]);
  console.log(
    table(["AGENT", "ZONE", "STATE", "REVISION", "BEHIND", "NODES", "UNEXPLAINED", "REFUSED"], rows),
  );
  console.log(`\njournal head: revision ${head}`);
}

async function listKeys(client: SignedClient, json: boolean): Promise<void> {
  const { keys } = await client.json<{ keys: KeyView[] }>("GET", "/admin/v1/agent-keys");
  if (json) {
    console.log(JSON.stringify(keys, null, 2));
    return;
  }
  if (keys.length === 0) {
    console.log("no agent key yet: ballast agents add NAME --zone ZONE --out FILE");
    return;
  }
  const rows = keys.map((k) => [k.name, k.zone, k.status, k.createdTime, k.createdBy, k.revokedTime ?? "-"]);
  console.log(table(["NAME", "ZONE", "STATUS", "CREATED", "BY", "REVOKED"], rows));
}

function keyPath(name: string | undefined): string {
  if (name === undefined) throw new UsageError("an agent name is required");
  return `/admin/v1/agent-keys/${encodeURIComponent(name)}`;
}

async function revokeKey(client: SignedClient, name: string | undefined): Promise<void> {
  const { key } = await client.json<{ key: KeyView }>("POST", `${keyPath(name)}/revoke`);
  console.log(
    `agent ${name}: key revoked at ${key.revokedTime}; its next request is refused, it keeps serving what it has`,
  );
}

async function addKey(
  client: SignedClient,
  name: string | undefined,
  values: {
    readonly zone?: string | undefined;
    readonly out?: string | undefined;
    readonly control?: string | undefined;
  },
): Promise<void> {
  const path = keyPath(name);
  if (values.zone === undefined)
    throw new UsageError("--zone ZONE is required: the one zone the agent serves");
  const r = await client.json<{ credentials: AgentCredentials }>("POST", path, { zone: values.zone });
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
