/**
 * Connection draining (the ConnectionDraining attribute): a back end deregistered from a load
 * balancer that drains keeps its in-flight requests — and is reported InService, "Instance
 * deregistration currently in progress" — until they have ended or the draining timeout passes;
 * then what is left is cut.
 */
import type { InstanceHealthReport } from "../model/agent-protocol.js";
import type { NodeSpec } from "../model/node-spec.js";
import type { Logger } from "../util/logger.js";
import type { OutstandingCount } from "./target.js";

/** How often draining back ends are checked for their last request. */
const DRAIN_POLL_MS = 100;

/** A back end's in-flight requests on one listener, and how to cut them. */
export interface DrainHold {
  readonly count: OutstandingCount;
  readonly cut: () => void;
}

interface Draining {
  readonly instanceId: string;
  /** `Date.now()` after which its remaining requests are cut. */
  readonly deadline: number;
  readonly holds: readonly DrainHold[];
}

export class ConnectionDrainer {
  readonly #log: Logger;
  readonly #changed: () => void;
  /** Draining back ends by load balancer, then instance id. */
  readonly #byLoadBalancer = new Map<string, Map<string, Draining>>();
  #timer: NodeJS.Timeout | null = null;

  /** `changed` is called when a drain ends (the health report changes). */
  constructor(log: Logger, changed: () => void) {
    this.#log = log;
    this.#changed = changed;
  }

  /**
   * Before `next` replaces `current` on this node: its back ends that leave start draining (when
   * the load balancer drains connections), and any that came back stop. `hold` gives a leaving
   * back end's in-flight requests on each listener.
   */
  update(current: NodeSpec, next: NodeSpec, hold: (instanceId: string) => DrainHold[]): void {
    const drains = this.#byLoadBalancer.get(next.name) ?? new Map<string, Draining>();
    const kept = new Set(next.backends.map((b) => b.instanceId));
    for (const id of kept) drains.delete(id);
    const draining = next.draining;
    if (draining.enabled) {
      for (const b of current.backends) {
        if (kept.has(b.instanceId) || drains.has(b.instanceId)) continue;
        drains.set(b.instanceId, {
          instanceId: b.instanceId,
          deadline: Date.now() + draining.timeoutSeconds * 1000,
          holds: hold(b.instanceId),
        });
        this.#log.info("connection draining", { loadBalancer: next.name, instanceId: b.instanceId });
      }
    }
    if (drains.size === 0) {
      this.#byLoadBalancer.delete(next.name);
      return;
    }
    this.#byLoadBalancer.set(next.name, drains);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#check(), DRAIN_POLL_MS);
      this.#timer.unref();
    }
  }

  /** The load balancer left this node: its drains end with its listeners. */
  forget(loadBalancer: string): void {
    this.#byLoadBalancer.delete(loadBalancer);
  }

  /** What the agent reports for the back ends a load balancer is draining. */
  reports(loadBalancer: string): InstanceHealthReport[] {
    const drains = this.#byLoadBalancer.get(loadBalancer);
    if (drains === undefined) return [];
    return [...drains.values()].map((d) => ({
      loadBalancer,
      instanceId: d.instanceId,
      state: "InService",
      reasonCode: "N/A",
      description: "Instance deregistration currently in progress",
      draining: true,
    }));
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #check(): void {
    const now = Date.now();
    let changed = false;
    for (const [name, drains] of this.#byLoadBalancer) {
      for (const [id, d] of drains) {
        const busy = d.holds.some((h) => h.count.n > 0);
        if (busy && now < d.deadline) continue;
        if (busy) for (const h of d.holds) h.cut();
        drains.delete(id);
        changed = true;
        this.#log.info(busy ? "connection draining timed out" : "connection draining done", {
          loadBalancer: name,
          instanceId: id,
        });
      }
      if (drains.size === 0) this.#byLoadBalancer.delete(name);
    }
    if (this.#byLoadBalancer.size === 0) this.stop();
    if (changed) this.#changed();
  }
}
