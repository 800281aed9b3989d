import type { Balancer, BalancerFactory, BalancerTarget } from "./balancer.js";

/** Round robin over the InService targets, in table order. */
export class RoundRobinBalancer<T extends BalancerTarget> implements Balancer<T> {
  readonly #targets: readonly T[];
  #next = 0;

  constructor(targets: readonly T[]) {
    this.#targets = targets;
  }

  pick(exclude?: T): T | undefined {
    const targets = this.#targets;
    const n = targets.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.#next + i) % n;
      const t = targets[idx];
      if (t === undefined || !t.inService || t === exclude) continue;
      this.#next = (idx + 1) % n;
      return t;
    }
    return undefined;
  }
}

export const roundRobin: BalancerFactory = (targets) => new RoundRobinBalancer(targets);
