import type { Balancer, BalancerFactory, BalancerTarget } from "./balancer.js";

/**
 * Least outstanding requests (Classic ELB's algorithm for HTTP/HTTPS listeners): the InService
 * target with the fewest in-flight requests. Ties go round robin, starting after the last pick,
 * so equally loaded targets share the load. One O(n) scan per pick, no allocation.
 */
export class LeastOutstandingBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly #targets: readonly T[];
  #next = 0;

  constructor(targets: readonly T[]) {
    this.#targets = targets;
  }

  pick(exclude?: T): T | undefined {
    const targets = this.#targets;
    const n = targets.length;
    let best: T | undefined;
    let bestIdx = 0;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const idx = (this.#next + i) % n;
      const t = targets[idx];
      if (t === undefined || !t.inService || t === exclude) continue;
      const count = t.outstanding ?? 0;
      if (count < bestCount) {
        best = t;
        bestIdx = idx;
        bestCount = count;
        if (count === 0) break;
      }
    }
    if (best !== undefined) this.#next = (bestIdx + 1) % n;
    return best;
  }
}

export const leastOutstanding: BalancerFactory = (targets) => new LeastOutstandingBalancer(targets);
