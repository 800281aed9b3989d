/** Agents: zone, connected or stale, the revision each runs, what it refused, its load if reported. */
import { admin } from "../api";
import { useLoad } from "../hooks";
import type { Session } from "../session";
import type { AgentView } from "../types";
import { ErrorLine, Loading, time } from "../ui";

export function AgentsPage(props: { readonly session: Session }) {
  const { session } = props;
  const agents = useLoad(
    () => admin<{ head: number; agents: AgentView[] }>(session, "GET", "/agents"),
    [session],
    5000,
  );
  const d = agents.data;
  return (
    <section>
      <h1>Agents</h1>
      <ErrorLine error={agents.error} />
      {d === undefined ? (
        agents.error === undefined && <Loading what="agents" />
      ) : (
        <>
          <p>
            Journal head: revision <strong>{d.head}</strong>. {d.agents.filter((a) => a.fresh).length} of{" "}
            {d.agents.length} agents connected.
          </p>
          {d.agents.length === 0 ? (
            <p>No agent has reported yet.</p>
          ) : (
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    <th scope="col">Zone</th>
                    <th scope="col">Status</th>
                    <th scope="col">Applied revision</th>
                    <th scope="col">Behind</th>
                    <th scope="col">Nodes (placed)</th>
                    <th scope="col">Load</th>
                    <th scope="col">Last report</th>
                    <th scope="col">Refused document</th>
                  </tr>
                </thead>
                <tbody>
                  {d.agents.map((a) => (
                    <tr key={a.agentId} data-agent={a.agentId}>
                      <th scope="row" class="mono">
                        {a.agentId}
                      </th>
                      <td>{a.zone}</td>
                      <td class={a.fresh ? "in-service" : "out-of-service"}>
                        {a.fresh ? "connected" : "stale"}
                      </td>
                      <td>{a.configRevision}</td>
                      <td>{a.lagRevisions}</td>
                      <td>
                        {a.nodes}
                        {a.placed !== undefined && a.placed !== a.nodes ? ` (placed ${a.placed})` : ""}
                      </td>
                      <td class="load">{loadText(a)}</td>
                      <td>{time(a.lastReport)}</td>
                      <td>{a.refused === undefined ? "—" : refusedText(a.refused)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}

function loadText(a: AgentView): string {
  if (a.load === undefined) return "not reported";
  return `${a.load.activeConnections} connections, ${a.load.surgeQueueLength} queued`;
}

function refusedText(r: unknown): string {
  if (typeof r !== "object" || r === null) return String(r);
  const o = r as { revision?: number; reason?: string; time?: string };
  const rev = o.revision === undefined ? "" : `revision ${o.revision}: `;
  return `${rev}${o.reason ?? JSON.stringify(r)}`;
}
