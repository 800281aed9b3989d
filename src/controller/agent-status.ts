/**
 * Reading an agent's status report on the agent channel: its shape checked (an agent one version
 * behind says `configVersion`), and a pause that lets waiting work go first between the steps of
 * a large one.
 */
import type { AgentStatus, StatusReportHeader } from "../model/agent-protocol.js";

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
  const report = s.report === undefined ? undefined : parseHeader(s.report);
  return {
    ...(s as unknown as AgentStatus),
    configRevision,
    time: new Date().toISOString(),
    ...(report === undefined ? {} : { report }),
  };
}

function parseHeader(v: unknown): StatusReportHeader {
  const h = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (!isCount(h.seq)) throw new Error("report.seq must be a non-negative integer");
  if (h.dnsTag !== undefined && typeof h.dnsTag !== "string")
    throw new Error("report.dnsTag must be a string");
  const tag = h.dnsTag === undefined ? {} : { dnsTag: h.dnsTag };
  if (h.base === undefined) return { seq: h.seq, ...tag };
  if (!isCount(h.base) || h.base >= h.seq) throw new Error("report.base must be an integer below report.seq");
  const g = (typeof h.gone === "object" && h.gone !== null ? h.gone : {}) as Record<string, unknown>;
  const gone = { nodes: strings(g.nodes), health: strings(g.health), traffic: strings(g.traffic) };
  if (gone.nodes === undefined || gone.health === undefined || gone.traffic === undefined)
    throw new Error("report.gone must list nodes, health and traffic keys");
  return {
    seq: h.seq,
    base: h.base,
    gone: { nodes: gone.nodes, health: gone.health, traffic: gone.traffic },
    ...tag,
  };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((k) => typeof k === "string") ? v : undefined;
}
