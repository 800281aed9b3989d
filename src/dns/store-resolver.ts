/**
 * Maps a load balancer's DNSName to the addresses of its nodes, from the store: the load
 * balancer by name, its nodes from the agents' statuses (see model/dns-records.ts for which).
 */
import { servingAddresses } from "../model/dns-records.js";
import { regionOf } from "../model/region.js";
import type { Store } from "../store/store.js";
import type { Resolve } from "./answer.js";
import { normalizeName } from "./answer.js";

export interface StoreResolverOptions {
  /** Statuses older than this are ignored. Default 30 s. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

export function storeResolver(store: Store, opts: StoreResolverOptions = {}): Resolve {
  const now = opts.now ?? Date.now;
  return async (name) => {
    const wanted = normalizeName(name);
    const lb = (await store.list("loadBalancer")).find((c) => normalizeName(c.doc.dnsName) === wanted)?.doc;
    if (!lb) return undefined;
    return servingAddresses(lb.name, regionOf(lb), await store.agentStatuses(), now(), opts.maxAgeMs);
  };
}
