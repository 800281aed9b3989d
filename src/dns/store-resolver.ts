/**
 * Maps a load balancer's DNSName to the addresses its nodes report. The addresses come from
 * observed state (agent statuses), not desired state: DNS should point at nodes that are
 * actually running, and an agent that stopped reporting drops out after `maxAgeMs`.
 */
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

export function storeResolver(store: Store, opts: StoreResolverOptions = {}): Resolve {
  const maxAgeMs = opts.maxAgeMs ?? 30_000;
  const now = opts.now ?? Date.now;
  return async (name) => {
    const wanted = normalizeName(name);
    const lb = (await store.list("loadBalancer")).find((c) => normalizeName(c.doc.dnsName) === wanted)?.doc;
    if (!lb) return undefined;
    const oldest = now() - maxAgeMs;
    const addresses = new Set<string>();
    for (const status of await store.agentStatuses()) {
      const t = Date.parse(status.time);
      if (Number.isNaN(t) || t < oldest) continue;
      for (const node of status.nodes) if (node.loadBalancer === lb.name) addresses.add(node.address);
    }
    return [...addresses].sort(compareIpv4);
  };
}
