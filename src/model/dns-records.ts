/**
 * Which addresses a load balancer's DNSName resolves to, decided once for every process that
 * answers: the control plane's responder (from the store) and each agent's (from what the control
 * plane last published to it). The addresses are observed state — nodes that agents report
 * running — not desired state.
 *
 * Like ELB, a node with no InService back end to route to (with cross-zone load balancing off,
 * one whose zone has none) is left out, and the answer fails open: when no node has one, every
 * node is listed rather than none.
 */
import type { AgentStatus, NodeReport } from "./agent-protocol.js";
import { regionServedBy } from "./region.js";

/** One name an agent answers for, and the nodes it resolves to. */
export interface DnsRecord {
  /** Lower case, without a trailing dot. */
  readonly name: string;
  readonly addresses: readonly string[];
}

/** A DNS name as records hold it: lower case, without a trailing dot. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, "");
}

/** Statuses older than this are not evidence of a running node. */
export const DNS_STATUS_MAX_AGE_MS = 30_000;

function compareIpv4(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 4; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A node reporting no count (an agent from before the field) is counted as routable. */
export function nodeCanServe(node: Pick<NodeReport, "routableInService">): boolean {
  return node.routableInService === undefined || node.routableInService > 0;
}

/** The node addresses of load balancer `name` in `region` that fresh statuses report, sorted. */
export function servingAddresses(
  name: string,
  region: string,
  statuses: readonly AgentStatus[],
  now: number,
  maxAgeMs = DNS_STATUS_MAX_AGE_MS,
): string[] {
  return servingAddressesByName(region, statuses, now, maxAgeMs, new Set([name])).get(name) ?? [];
}

/**
 * The same for every load balancer of `region` in one pass over the statuses (for `only` of
 * them, when given): what the control plane publishes to an agent each second.
 */
export function servingAddressesByName(
  region: string,
  statuses: readonly AgentStatus[],
  now: number,
  maxAgeMs = DNS_STATUS_MAX_AGE_MS,
  only?: ReadonlySet<string>,
): Map<string, string[]> {
  const oldest = now - maxAgeMs;
  const nodes = new Map<string, { all: Set<string>; serving: Set<string> }>();
  for (const status of statuses) {
    const t = Date.parse(status.time);
    if (Number.isNaN(t) || t < oldest) continue;
    // Names are per region: another region's load balancer of the same name is not this one.
    if (regionServedBy(status.zone) !== region) continue;
    for (const node of status.nodes) {
      if (only !== undefined && !only.has(node.loadBalancer)) continue;
      let n = nodes.get(node.loadBalancer);
      if (n === undefined) {
        n = { all: new Set(), serving: new Set() };
        nodes.set(node.loadBalancer, n);
      }
      n.all.add(node.address);
      if (nodeCanServe(node)) n.serving.add(node.address);
    }
  }
  const out = new Map<string, string[]>();
  for (const [name, n] of nodes)
    out.set(name, [...(n.serving.size > 0 ? n.serving : n.all)].sort(compareIpv4));
  return out;
}
