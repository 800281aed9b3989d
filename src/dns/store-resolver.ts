/**
 * Maps a load balancer's DNSName to the addresses of its nodes, from the store: the load
 * balancer by name, its nodes from the agents' statuses (see model/dns-records.ts for which).
 */
import { servingAddresses } from "../model/dns-records.js";
import { followPlacement } from "../model/placement.js";
import { regionOf } from "../model/region.js";
import type { Store } from "../store/store.js";
import type { Resolve } from "./answer.js";
import { normalizeName } from "./answer.js";

export interface StoreResolverOptions {
  /** Statuses older than this are ignored. Default 30 s. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** Names remembered for answering through a store that lost them (see storeResolver). */
const MAX_KNOWN_NAMES = 100_000;

export function storeResolver(store: Store, opts: StoreResolverOptions = {}): Resolve {
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
    // Nodes placement moved away (a failover) leave the answer at once, not when their reports age out.
    const [statuses, placements] = await Promise.all([store.agentStatuses(), store.list("placement")]);
    const following = followPlacement(
      statuses,
      placements.map((p) => p.doc),
    );
    const addresses = servingAddresses(lb.name, lb.region, following, now(), opts.maxAgeMs);
    if (found === undefined && addresses.length === 0) return undefined;
    return addresses;
  };
}
