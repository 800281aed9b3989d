import type { HealthFailureKind } from "../../model/agent-protocol.js";
import type { Backend, HealthCheckSpec } from "../../model/node-spec.js";
import type { Logger } from "../../util/logger.js";
import { type BackendAuth, backendAuth } from "../backend-auth.js";
import { type HealthProbe, type ProbeFailure, type ProbeSink, SocketProbe } from "./probe.js";
import { BackendHealth } from "./state.js";

/** Told when any back end of the checked load balancer changes state. */
export interface HealthChangeSink {
  healthChanged(loadBalancer: string, health: BackendHealth): void;
}

/** One back end under check: its observed health and the probe that feeds it. */
class BackendCheck implements ProbeSink {
  readonly health: BackendHealth;
  probe: HealthProbe | null = null;
  readonly #checker: HealthChecker;

  constructor(health: BackendHealth, checker: HealthChecker) {
    this.health = health;
    this.#checker = checker;
  }

  onProbeResult(ok: boolean, failure?: ProbeFailure): void {
    this.#checker.record(this, ok, failure);
  }
}

/**
 * The active health checker of one load balancer on this node: every `interval` seconds it probes
 * each registered back end (one probe at a time per back end), straight to the back end's address
 * and the target's port. Separate from balancing: it only writes `BackendHealth`, which the
 * routing tables read.
 */
export class HealthChecker {
  readonly #loadBalancer: string;
  readonly #sink: HealthChangeSink;
  readonly #log: Logger;
  readonly #checks = new Map<string, BackendCheck>();
  /** Failed checks since this checker started, by why they failed (the agent's metrics). */
  readonly failures = new Map<HealthFailureKind, number>();
  #spec: HealthCheckSpec;
  /** BackendServerAuthentication on the target's port, for SSL/HTTPS checks. */
  #auth: BackendAuth | null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(loadBalancer: string, spec: HealthCheckSpec, sink: HealthChangeSink, log: Logger) {
    this.#loadBalancer = loadBalancer;
    this.#sink = sink;
    this.#log = log;
    this.#spec = spec;
    this.#auth = backendAuth(spec.authentication);
  }

  /** The health of a registered instance, if it is under check. */
  get(instanceId: string): BackendHealth | undefined {
    return this.#checks.get(instanceId)?.health;
  }

  /** Every back end under check, in registration order. */
  all(): BackendHealth[] {
    const out: BackendHealth[] = [];
    for (const c of this.#checks.values()) out.push(c.health);
    return out;
  }

  /**
   * Makes the checked set equal `backends` under `spec`. An instance kept at the same address
   * keeps its health; a new (or moved) one starts as registering and is probed at once.
   */
  update(spec: HealthCheckSpec, backends: readonly Backend[]): void {
    const configChanged = JSON.stringify(this.#spec) !== JSON.stringify(spec);
    if (configChanged) {
      this.#spec = spec;
      this.#auth = backendAuth(spec.authentication);
    }
    const wanted = new Set<string>();
    const fresh: BackendCheck[] = [];
    for (const b of backends) {
      wanted.add(b.instanceId);
      const existing = this.#checks.get(b.instanceId);
      if (existing !== undefined && existing.health.address === b.address) {
        if (configChanged) this.#newProbe(existing);
        continue;
      }
      existing?.probe?.stop();
      const check = new BackendCheck(new BackendHealth(b.instanceId, b.address), this);
      this.#newProbe(check);
      this.#checks.set(b.instanceId, check);
      fresh.push(check);
    }
    for (const [id, check] of this.#checks) {
      if (wanted.has(id)) continue;
      check.probe?.stop();
      this.#checks.delete(id);
    }
    if (configChanged || this.#timer === null) this.#schedule();
    for (const c of fresh) c.probe?.run();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const c of this.#checks.values()) c.probe?.stop();
  }

  /** @internal Called by a back end's probe with one result. */
  record(check: BackendCheck, ok: boolean, failure?: ProbeFailure): void {
    if (this.#stopped || this.#checks.get(check.health.instanceId) !== check) return;
    const from = check.health.state;
    if (!ok && failure !== undefined)
      this.failures.set(failure.kind, (this.failures.get(failure.kind) ?? 0) + 1);
    if (check.health.record(ok, this.#spec, failure)) {
      const h = check.health;
      // One line an operator can read: which back end, where, what it was, what it is, and why.
      this.#log.info("instance health changed", {
        loadBalancer: this.#loadBalancer,
        instanceId: h.instanceId,
        address: h.address,
        from,
        to: h.state,
        ...(ok || h.lastFailure === undefined ? {} : { reason: h.lastFailure.detail }),
      });
      this.#sink.healthChanged(this.#loadBalancer, check.health);
    }
  }

  /** @internal One round of checks. */
  tick(): void {
    for (const c of this.#checks.values()) if (c.probe !== null && !c.probe.running) c.probe.run();
  }

  #schedule(): void {
    if (this.#stopped) return;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = setInterval(onTick, Math.max(1, this.#spec.intervalSeconds * 1000), this);
    this.#timer.unref();
  }

  #newProbe(check: BackendCheck): void {
    check.probe?.stop();
    const spec = this.#spec;
    check.probe = new SocketProbe(
      check.health.address,
      spec,
      Math.max(1, spec.timeoutSeconds * 1000),
      check,
      this.#auth,
    );
  }
}

function onTick(checker: HealthChecker): void {
  checker.tick();
}
