/** `ballast agents [--json]`: the agents as their reports show them, through the signed admin API. */
import { parseArgs } from "node:util";
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
  readonly unexplained: readonly string[];
  readonly refused?: { readonly revision: number; readonly reason: string };
}

export async function agentsCommand(argv: string[]): Promise<void> {
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
      String(a.nodes),
      String(a.unexplained.length),
      a.refused === undefined ? "-" : `revision ${a.refused.revision}: ${a.refused.reason}`,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
  console.log(`journal head: revision ${head}`);
}
