/**
 * Maps a load balancer's DNSName to the addresses of its nodes. The addresses come from
 * observed state (agent statuses), not desired state: DNS should point at nodes that are
 * actually running, and an agent that stopped reporting drops out after `maxAgeMs`.
 *
 * Like ELB, DNS leaves out a node that has no InService back end to route to (with cross-zone
 * load balancing off, one whose zone has none), and fails open: when no node has one, it answers
 * with every node rather than with nothing.
 */
import type { NodeReport } from "../model/agent-protocol.js";
import { regionOf, regionServedBy } from "../model/region.js";
import type { Store } from "../store/store.js";
import type { Resolve } from "./answer.js";
import { normalizeName } from "./answer.js";

export interface StoreResolverOptions {
  /** Statuses older than this are ignored. Default 30 s. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

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
function routable(node: NodeReport): boolean {
  return node.routableInService === undefined || node.routableInService > 0;
}

/** Names remembered for answering through a store that lost them (see storeResolver). */
const MAX_KNOWN_NAMES = 100_000;

export function storeResolver(store: Store, opts: StoreResolverOptions = {}): Resolve {
  const maxAgeMs = opts.maxAgeMs ?? 30_000;
  const now = opts.now ?? Date.now;
  // Every name answered before, with the load balancer it named: when the store loses a load
  // balancer behind the journal's back (the 2012 failure, until the controller repairs it), its
  // name still answers with the nodes agents report serving it, instead of an NXDOMAIN resolvers
  // would cache. A load balancer deleted through the API leaves its agents, and then DNS, too.
  const known = new Map<string, { readonly name: string; readonly region: string }>();
  return async (name) => {
    const wanted = normalizeName(name);
    const lbs = await store.list("loadBalancer");
    const found = lbs.find((c) => normalizeName(c.doc.dnsName) === wanted)?.doc;
    if (found !== undefined && known.size < MAX_KNOWN_NAMES)
      known.set(wanted, { name: found.name, region: regionOf(found) });
    const lb = found === undefined ? known.get(wanted) : { name: found.name, region: regionOf(found) };
    if (!lb) return undefined;
    // The name was re-created (a new DNS name): the old name is gone for good.
    if (found === undefined && lbs.some((c) => c.doc.name === lb.name && regionOf(c.doc) === lb.region))
      return undefined;
    const oldest = now() - maxAgeMs;
    const all = new Set<string>();
    const serving = new Set<string>();
    const region = lb.region;
    for (const status of await store.agentStatuses()) {
      const t = Date.parse(status.time);
      if (Number.isNaN(t) || t < oldest) continue;
      // Names are per region: another region's load balancer of the same name is not this one.
      if (regionServedBy(status.zone) !== region) continue;
      for (const node of status.nodes) {
        if (node.loadBalancer !== lb.name) continue;
        all.add(node.address);
        if (routable(node)) serving.add(node.address);
      }
    }
    if (found === undefined && all.size === 0) return undefined;
    return [...(serving.size > 0 ? serving : all)].sort(compareIpv4);
  };
}
