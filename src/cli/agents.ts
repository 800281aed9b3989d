/** `ballast agents [--json]`: the agents as their reports show them, through the signed admin API. */
import { signedClient } from "./client.js";
import { parseCommand } from "./command.js";
import { table } from "./output.js";
import { AGENTS } from "./specs/safety.js";

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
  const { values } = parseCommand(AGENTS, argv);
  const client = await signedClient(values);
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
    String(a.nodes),
    String(a.unexplained.length),
    a.refused === undefined ? "-" : `revision ${a.refused.revision}: ${a.refused.reason}`,
  ]);
  console.log(
    table(["AGENT", "ZONE", "STATE", "REVISION", "BEHIND", "NODES", "UNEXPLAINED", "REFUSED"], rows),
  );
  console.log(`\njournal head: revision ${head}`);
}
