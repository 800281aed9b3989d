import type { HealthCheckFailure, InstanceHealthReport, InstanceState } from "../../model/agent-protocol.js";
import { BackendStats } from "../metrics.js";

export const REGISTERING = "Instance registration is still in progress.";
export const FAILED_THRESHOLD =
  "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.";

export interface Thresholds {
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

/**
 * The observed health of one registered instance of one load balancer, kept beside its spec.
 * ELB semantics: a newly registered instance is OutOfService ("registration in progress") until
 * its first passing check; after that, state flips only after a threshold of consecutive
 * results. The counters are the pending change between the two states.
 */
export class BackendHealth {
  readonly instanceId: string;
  readonly address: string;
  state: InstanceState = "OutOfService";
  reasonCode: InstanceHealthReport["reasonCode"] = "ELB";
  description = REGISTERING;
  /** The last failed check, whatever the state now: what operators see beside AWS's words. */
  lastFailure: HealthCheckFailure | undefined;
  /** Requests, errors and latency of this back end for this load balancer (its metrics series). */
  readonly stats = new BackendStats();
  #registering = true;
  #passes = 0;
  #failures = 0;

  constructor(instanceId: string, address: string) {
    this.instanceId = instanceId;
    this.address = address;
  }

  get inService(): boolean {
    return this.state === "InService";
  }

  /** At least one check has answered. */
  get checked(): boolean {
    return !this.#registering || this.#passes + this.#failures > 0;
  }

  /** Records one check result (a failure with its reason); returns true when the state changed. */
  record(ok: boolean, t: Thresholds, failure?: Omit<HealthCheckFailure, "at">, at = new Date()): boolean {
    if (!ok && failure !== undefined) this.lastFailure = { ...failure, at: at.toISOString() };
    if (ok) {
      this.#failures = 0;
      this.#passes++;
      if (this.state === "InService") return false;
      if (this.#registering || this.#passes >= t.healthyThreshold) {
        this.#registering = false;
        this.#set("InService", "N/A", "N/A");
        return true;
      }
      return false;
    }
    this.#passes = 0;
    this.#failures++;
    if (this.#failures < t.unhealthyThreshold) return false;
    if (this.state === "OutOfService" && !this.#registering) return false;
    this.#registering = false;
    this.#set("OutOfService", "Instance", FAILED_THRESHOLD);
    return true;
  }

  report(loadBalancer: string): InstanceHealthReport {
    return {
      loadBalancer,
      instanceId: this.instanceId,
      state: this.state,
      reasonCode: this.reasonCode,
      description: this.description,
      ...(this.lastFailure === undefined ? {} : { lastFailure: this.lastFailure }),
    };
  }

  #set(state: InstanceState, reasonCode: InstanceHealthReport["reasonCode"], description: string): void {
    this.state = state;
    this.reasonCode = reasonCode;
    this.description = description;
  }
}
