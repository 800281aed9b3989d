/**
 * Reading an agent's status report on the agent channel: its shape checked (an agent one version
 * behind says `configVersion`), and a pause that lets waiting work go first between the steps of
 * a large one.
 */
import type { AgentStatus } from "../model/agent-protocol.js";

/** One turn of the event loop: pending I/O (a configuration poll, an API call) runs first. */
export function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function parseStatus(v: unknown): AgentStatus {
  if (typeof v !== "object" || v === null) throw new Error("status must be an object");
  const s = v as Record<string, unknown>;
  if (typeof s.agentId !== "string" || s.agentId === "") throw new Error("agentId required");
  if (typeof s.zone !== "string") throw new Error("zone required");
  // An agent one version behind reports `configVersion`.
  const configRevision = s.configRevision ?? s.configVersion;
  if (typeof configRevision !== "number") throw new Error("configRevision required");
  if (!Array.isArray(s.nodes) || !Array.isArray(s.health) || !Array.isArray(s.unexplained)) {
    throw new Error("nodes, health and unexplained must be arrays");
  }
  return { ...(s as unknown as AgentStatus), configRevision, time: new Date().toISOString() };
}
