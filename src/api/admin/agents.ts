/**
 * The admin JSON API's view of the agents, from their status reports: which zone each serves,
 * whether it reported lately, the revision it runs, what it keeps unexplained, and the last
 * document it refused (a NACK, with its reason).
 *
 *   GET /admin/v1/agents → { head, agents: [{ agentId, zone, configRevision, lagRevisions, fresh,
 *                            lastReport, nodes, placed, unexplained, refused? }] }
 */
import { BallastError } from "../../model/errors.js";
import type { Store } from "../../store/store.js";
import { ADMIN_PREFIX, type AdminCall, type Json } from "./common.js";

const AGENTS = `${ADMIN_PREFIX}/agents`;
/** A report older than this makes an agent stale. */
const FRESH_MS = 30_000;

export function isAgentsPath(path: string): boolean {
  return path === AGENTS;
}

export function createAgentRoutes(opts: { readonly store: Store }): (call: AdminCall) => Promise<Json> {
  return async (call) => {
    if (call.method !== "GET") throw new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
    const [head, statuses, placements] = await Promise.all([
      opts.store.head(),
      opts.store.agentStatuses(),
      opts.store.list("placement"),
    ]);
    // Nodes placement puts on each agent (what it should run), beside what it reports running.
    const placed = new Map<string, number>();
    for (const { doc } of placements)
      for (const ids of Object.values(doc.nodes))
        for (const id of ids) placed.set(id, (placed.get(id) ?? 0) + 1);
    const now = Date.now();
    const agents = [...statuses]
      .sort((a, b) => (a.zone === b.zone ? (a.agentId < b.agentId ? -1 : 1) : a.zone < b.zone ? -1 : 1))
      .map((s) => ({
        agentId: s.agentId,
        zone: s.zone,
        configRevision: s.configRevision,
        lagRevisions: head - s.configRevision,
        fresh: now - Date.parse(s.time) <= FRESH_MS,
        lastReport: s.time,
        nodes: s.nodes.length,
        placed: placed.get(s.agentId) ?? 0,
        unexplained: s.unexplained,
        ...(s.refused === undefined ? {} : { refused: s.refused }),
      }));
    return { head, agents };
  };
}
