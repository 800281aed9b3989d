/**
 * A balancer chooses one target among a routing table's targets. It is built once per routing
 * table (aside, then swapped in) and consulted on every request, so `pick` must not allocate.
 * Health is observed state that lives beside the target; the balancer only reads `inService`.
 */
export interface BalancerTarget {
  readonly inService: boolean;
  /**
   * Requests dispatched to this target and not yet finished, kept by the listener (HTTP only).
   * Read by least-outstanding balancing; absent counts as 0.
   */
  readonly outstanding?: number;
}

export interface Balancer<T extends BalancerTarget> {
  /** The next InService target, skipping `exclude` (the one that just failed); undefined if none. */
  pick(exclude?: T): T | undefined;
}

export type BalancerFactory = <T extends BalancerTarget>(targets: readonly T[]) => Balancer<T>;
