/**
 * Bulk changes on the ELB API (principle 5): one principal removing more than a threshold of
 * load balancers, or of registered instances, in one request or within one minute is doing
 * maintenance, and needs an approved change ticket (or break-glass) for the call that goes over.
 * Removals are what count — the ELB actions that take something away from a load balancer
 * (model/guard.ts NAMING_ACTIONS); creating and registering never need a ticket.
 *
 * The window is shared by every control plane on one store: replicas on PostgreSQL count in one
 * table, so alternating between them does not double the threshold (store/removal-ledger.ts).
 */
import { NAMING_ACTIONS } from "../../model/guard.js";
import { MemoryRemovalLedger, type RemovalCounts, type RemovalLedger } from "../../store/removal-ledger.js";

/** What one call removes. */
export interface BulkChange {
  readonly loadBalancers: readonly string[];
  /** Load balancers it deletes or takes something from. */
  readonly loadBalancerCount: number;
  /** Instances it deregisters. */
  readonly instanceCount: number;
}

export const DEFAULT_BULK_THRESHOLD = 10;

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

/** A counted change: why it is a bulk change (undefined when it is not), and how to take it back. */
export interface BulkReservation {
  readonly why: string | undefined;
  release(): Promise<void>;
}

/** Per principal, the removals of the last minute, counted in a ledger (store/removal-ledger.ts). */
export class BulkWindow {
  readonly #threshold: number;
  readonly #ledger: RemovalLedger;

  constructor(threshold = DEFAULT_BULK_THRESHOLD, ledger: RemovalLedger = new MemoryRemovalLedger()) {
    this.#threshold = threshold;
    this.#ledger = ledger;
  }

  get threshold(): number {
    return this.#threshold;
  }

  /**
   * Counts `change` by `principal` before it runs (two calls at once cannot both slip under the
   * threshold) and says whether it makes a bulk change; a call that then fails or is refused
   * releases it.
   */
  async reserve(principal: string, change: BulkChange): Promise<BulkReservation> {
    const { totals, release } = await this.#ledger.reserve(principal, {
      loadBalancers: change.loadBalancerCount,
      instances: change.instanceCount,
    });
    return { why: this.#why(principal, change, totals), release };
  }

  #why(principal: string, change: BulkChange, totals: RemovalCounts): string | undefined {
    const lbs = totals.loadBalancers;
    if (change.loadBalancerCount > 0 && lbs > this.#threshold)
      return `would make ${lbs} load balancers changed by ${principal} within a minute (more than ${this.#threshold}: a bulk change)`;
    const instances = totals.instances;
    if (change.instanceCount > 0 && instances > this.#threshold)
      return `would make ${instances} instances deregistered by ${principal} within a minute (more than ${this.#threshold}: a bulk change)`;
    return undefined;
  }

  close(): Promise<void> {
    return this.#ledger.close();
  }
}
