/**
 * Bulk changes on the ELB API (principle 5): one principal removing more than a threshold of
 * load balancers, or of registered instances, in one request or within one minute is doing
 * maintenance, and needs an approved change ticket (or break-glass) for the call that goes over.
 * Removals are what count — the ELB actions that take something away from a load balancer
 * (model/guard.ts NAMING_ACTIONS); creating and registering never need a ticket.
 *
 * The window is this process's: with several control-plane replicas, each counts the calls it
 * serves.
 */
import { NAMING_ACTIONS } from "../../model/guard.js";

/** What one call removes. */
export interface BulkChange {
  readonly loadBalancers: readonly string[];
  /** Load balancers it deletes or takes something from. */
  readonly loadBalancerCount: number;
  /** Instances it deregisters. */
  readonly instanceCount: number;
}

export const DEFAULT_BULK_THRESHOLD = 10;
const WINDOW_MS = 60_000;

/** What `action` removes, or undefined when it removes nothing. */
export function bulkChangeOf(
  action: string,
  param: (name: string) => string | undefined,
): BulkChange | undefined {
  if (!NAMING_ACTIONS.has(action)) return undefined;
  const name = param("LoadBalancerName");
  const loadBalancers = name === undefined ? [] : [name];
  if (action === "DeregisterInstancesFromLoadBalancer") {
    let n = 0;
    while (param(`Instances.member.${n + 1}.InstanceId`) !== undefined) n++;
    return { loadBalancers, loadBalancerCount: 0, instanceCount: n };
  }
  return { loadBalancers, loadBalancerCount: 1, instanceCount: 0 };
}

interface Entry {
  readonly at: number;
  readonly loadBalancers: number;
  readonly instances: number;
}

/** Per principal, the removals of the last minute. */
export class BulkWindow {
  readonly #threshold: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry[]>();

  constructor(threshold = DEFAULT_BULK_THRESHOLD, now: () => number = Date.now) {
    this.#threshold = threshold;
    this.#now = now;
  }

  get threshold(): number {
    return this.#threshold;
  }

  /** Why `change` by `principal` now is a bulk change, or undefined when it is not. */
  exceeds(principal: string, change: BulkChange): string | undefined {
    const recent = this.#recent(principal);
    const lbs = recent.reduce((n, e) => n + e.loadBalancers, 0) + change.loadBalancerCount;
    const instances = recent.reduce((n, e) => n + e.instances, 0) + change.instanceCount;
    if (change.loadBalancerCount > 0 && lbs > this.#threshold)
      return `would make ${lbs} load balancers changed by ${principal} within a minute (more than ${this.#threshold}: a bulk change)`;
    if (change.instanceCount > 0 && instances > this.#threshold)
      return `would make ${instances} instances deregistered by ${principal} within a minute (more than ${this.#threshold}: a bulk change)`;
    return undefined;
  }

  /**
   * Counts `change` before it runs (two calls at once cannot both slip under the threshold);
   * the returned function takes it back, for a call that then fails and removed nothing.
   */
  record(principal: string, change: BulkChange): () => void {
    const recent = this.#recent(principal);
    const entry = {
      at: this.#now(),
      loadBalancers: change.loadBalancerCount,
      instances: change.instanceCount,
    };
    recent.push(entry);
    this.#entries.set(principal, recent);
    return () => {
      const list = this.#entries.get(principal);
      const i = list?.indexOf(entry) ?? -1;
      if (list !== undefined && i >= 0) list.splice(i, 1);
    };
  }

  #recent(principal: string): Entry[] {
    const since = this.#now() - WINDOW_MS;
    const kept = (this.#entries.get(principal) ?? []).filter((e) => e.at > since);
    if (kept.length === 0) this.#entries.delete(principal);
    else this.#entries.set(principal, kept);
    return kept;
  }
}
