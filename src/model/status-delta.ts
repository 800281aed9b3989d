/**
 * Status reports that carry only what changed. An agent numbers its reports; once the control
 * plane acknowledges one (`accepted` in its StatusAck), the agent may send the next ones as
 * partial reports against it: the nodes, health entries and traffic figures that differ from the
 * acknowledged report, and the keys of those it no longer has. The control plane applies a partial
 * report only onto the very report it names as base, else asks for a full one. Pure: both sides
 * use the same keys and the same merge.
 *
 * Traffic figures keep their meaning (model/traffic.ts): counters since the agent started, gauges
 * as of now. An unchanged figure is left out and the merged report carries its last value, which
 * is the current one, so the control plane's per-interval differences come out as before.
 */
import type { AgentStatus, InstanceHealthReport, NodeReport, StatusReportHeader } from "./agent-protocol.js";
import type { TrafficReport } from "./traffic.js";

export const nodeKey = (n: NodeReport): string => `${n.loadBalancer}\u0000${n.address}`;
export const healthKey = (h: InstanceHealthReport): string => `${h.loadBalancer}\u0000${h.instanceId}`;
export const trafficKey = (t: TrafficReport): string => t.loadBalancer;

/** Each entry of a report by its key, as serialized: comparing strings finds what changed. */
export interface KeyedStatus {
  readonly nodes: ReadonlyMap<string, string>;
  readonly health: ReadonlyMap<string, string>;
  readonly traffic: ReadonlyMap<string, string>;
}

export function keyStatus(s: AgentStatus): KeyedStatus {
  return {
    nodes: keyed(s.nodes, nodeKey),
    health: keyed(s.health, healthKey),
    traffic: keyed(s.traffic ?? [], trafficKey),
  };
}

function keyed<T>(items: readonly T[], key: (t: T) => string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) out.set(key(item), JSON.stringify(item));
  return out;
}

/**
 * The partial report of `now` against the acknowledged report `base` (keyed `baseKeys`): every
 * field but nodes, health and traffic whole, those three only where they differ.
 */
export function partialStatus(
  now: AgentStatus,
  nowKeys: KeyedStatus,
  baseKeys: KeyedStatus,
  header: { readonly seq: number; readonly base: number; readonly dnsTag?: string },
): AgentStatus {
  const nodes = changed(now.nodes, nodeKey, nowKeys.nodes, baseKeys.nodes);
  const health = changed(now.health, healthKey, nowKeys.health, baseKeys.health);
  const traffic = changed(now.traffic ?? [], trafficKey, nowKeys.traffic, baseKeys.traffic);
  const report: StatusReportHeader = {
    ...header,
    gone: {
      nodes: gone(baseKeys.nodes, nowKeys.nodes),
      health: gone(baseKeys.health, nowKeys.health),
      traffic: gone(baseKeys.traffic, nowKeys.traffic),
    },
  };
  return { ...now, nodes, health, traffic, report };
}

function changed<T>(
  items: readonly T[],
  key: (t: T) => string,
  now: ReadonlyMap<string, string>,
  base: ReadonlyMap<string, string>,
): T[] {
  return items.filter((item) => {
    const k = key(item);
    return base.get(k) !== now.get(k);
  });
}

function gone(base: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const k of base.keys()) if (!now.has(k)) out.push(k);
  return out;
}

/** What a partial report changed in the stored status (traffic is not stored). */
export interface MergeResult {
  readonly status: AgentStatus;
  /** Anything stored (nodes, health, revision, unexplained, refused) differs from `base`. */
  readonly changed: boolean;
}

/** `partial` applied onto `base` (the full report it names): the whole status the agent has now. */
export function mergeStatus(base: AgentStatus, partial: AgentStatus): MergeResult {
  const gone = partial.report?.gone;
  const nodes = mergeList(base.nodes, partial.nodes, gone?.nodes ?? [], nodeKey);
  const health = mergeList(base.health, partial.health, gone?.health ?? [], healthKey);
  const traffic = mergeList(base.traffic ?? [], partial.traffic ?? [], gone?.traffic ?? [], trafficKey);
  const { report: _report, ...rest } = partial;
  const status: AgentStatus = { ...rest, nodes, health, traffic };
  const changed =
    partial.nodes.length > 0 ||
    partial.health.length > 0 ||
    (gone?.nodes.length ?? 0) > 0 ||
    (gone?.health.length ?? 0) > 0 ||
    base.configRevision !== partial.configRevision ||
    JSON.stringify(base.unexplained) !== JSON.stringify(partial.unexplained) ||
    JSON.stringify(base.refused) !== JSON.stringify(partial.refused);
  return { status, changed };
}

/** Base order kept, changed entries in place, new ones at the end, gone ones left out. */
function mergeList<T>(
  base: readonly T[],
  changes: readonly T[],
  gone: readonly string[],
  key: (t: T) => string,
): T[] {
  const byKey = new Map<string, T>();
  for (const item of base) byKey.set(key(item), item);
  for (const item of changes) byKey.set(key(item), item);
  for (const k of gone) byKey.delete(k);
  return [...byKey.values()];
}
