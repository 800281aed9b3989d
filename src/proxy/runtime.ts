/**
 * The agent's data plane: the load-balancer nodes this agent runs, their listeners, routing
 * tables and health checkers. `apply` levels the running set to the one given; request handling
 * never waits on it (tables are built aside and swapped in).
 */
import type { InstanceHealthReport, NodeLoadBalancer, NodeReport } from "../model/agent-protocol.js";
import type { Listener } from "../model/types.js";
import type { Logger } from "../util/logger.js";
import type { BalancerFactory } from "./balancer/balancer.js";
import { roundRobin } from "./balancer/round-robin.js";
import { type HealthChangeSink, HealthChecker } from "./health/checker.js";
import type { BackendHealth } from "./health/state.js";
import { HttpListener } from "./http/listener.js";
import { ProxyMetrics } from "./metrics.js";
import { PoolRegistry } from "./pools.js";
import type { ProxyListener } from "./target.js";
import { TcpListener } from "./tcp/listener.js";

export interface NodeAssignment {
  readonly address: string;
  readonly spec: NodeLoadBalancer;
}

export interface ProxyRuntimeOptions {
  readonly logger: Logger;
  readonly zone: string;
}

/** How long a removed listener lets in-flight work finish (ELB's default idle timeout). */
const REMOVAL_GRACE_MS = 60_000;
/** How long `close()` lets in-flight work finish. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Health changes are coalesced for this long before listeners are told. */
const HEALTH_DEBOUNCE_MS = 10;

/** One load balancer's node on this agent. */
interface RunningNode {
  address: string;
  spec: NodeLoadBalancer;
  readonly checker: HealthChecker;
  readonly listeners: Map<number, { readonly kind: string; readonly listener: ProxyListener }>;
}

/** The listener kind a Listener needs, or null when this slice does not serve it. */
function listenerKind(l: Listener): string | null {
  if (l.protocol === "HTTP" && l.instanceProtocol === "HTTP") return "HTTP";
  if (l.protocol === "TCP" && l.instanceProtocol === "TCP") return "TCP";
  return null;
}

export class ProxyRuntime implements HealthChangeSink {
  readonly metrics = new ProxyMetrics();
  readonly #log: Logger;
  readonly #pools: PoolRegistry;
  readonly #balancer: BalancerFactory = roundRobin;
  readonly #nodes = new Map<string, RunningNode>();
  readonly #draining = new Set<ProxyListener>();
  readonly #healthCallbacks: (() => void)[] = [];
  readonly #unsupportedLogged = new Set<string>();
  #healthTimer: NodeJS.Timeout | null = null;
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: ProxyRuntimeOptions) {
    this.#log = opts.logger.child({ component: "proxy", zone: opts.zone });
    this.#pools = new PoolRegistry(this.#log);
  }

  apply(nodes: readonly NodeAssignment[]): Promise<void> {
    const run = this.#applying.then(() => this.#apply(nodes));
    this.#applying = run.catch(() => {});
    return run;
  }

  health(): InstanceHealthReport[] {
    const out: InstanceHealthReport[] = [];
    for (const [name, node] of this.#nodes) {
      for (const b of node.spec.backends) {
        const h = node.checker.get(b.instanceId);
        if (h !== undefined) out.push(h.report(name));
      }
    }
    return out;
  }

  nodes(): NodeReport[] {
    const out: NodeReport[] = [];
    for (const [name, node] of this.#nodes) {
      out.push({
        loadBalancer: name,
        address: node.address,
        listeners: node.spec.listeners.map((l) => ({
          port: l.loadBalancerPort,
          protocol: l.protocol,
          bound: node.listeners.get(l.loadBalancerPort)?.listener.bound ?? false,
        })),
      });
    }
    return out;
  }

  onHealthChange(cb: () => void): void {
    this.#healthCallbacks.push(cb);
  }

  /** @internal HealthChangeSink: coalesces changes, then tells the agent. */
  healthChanged(): void {
    if (this.#healthTimer !== null || this.#closed) return;
    this.#healthTimer = setTimeout(() => {
      this.#healthTimer = null;
      for (const cb of this.#healthCallbacks) {
        try {
          cb();
        } catch (err) {
          this.#log.error("health change callback failed", { err });
        }
      }
    }, HEALTH_DEBOUNCE_MS);
    this.#healthTimer.unref();
  }

  async close(): Promise<void> {
    await this.#applying;
    this.#closed = true;
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer);
    this.#healthTimer = null;
    const closing: Promise<void>[] = [];
    for (const node of this.#nodes.values()) {
      node.checker.stop();
      for (const { listener } of node.listeners.values()) closing.push(listener.close(SHUTDOWN_GRACE_MS));
    }
    this.#nodes.clear();
    for (const listener of this.#draining) closing.push(listener.close(SHUTDOWN_GRACE_MS));
    await Promise.all(closing);
    await this.#pools.closeAll(SHUTDOWN_GRACE_MS);
  }

  async #apply(assignments: readonly NodeAssignment[]): Promise<void> {
    if (this.#closed) return;
    const wanted = new Map<string, NodeAssignment>();
    for (const a of assignments) wanted.set(a.spec.name, a);

    for (const [name, node] of this.#nodes) {
      if (wanted.has(name)) continue;
      this.#log.info("load balancer leaves this node", { loadBalancer: name });
      node.checker.stop();
      for (const { listener } of node.listeners.values()) this.#drain(listener);
      this.#nodes.delete(name);
      this.metrics.remove(name);
    }

    const binds: Promise<boolean>[] = [];
    for (const a of wanted.values()) {
      let node = this.#nodes.get(a.spec.name);
      if (node === undefined) {
        node = {
          address: a.address,
          spec: a.spec,
          checker: new HealthChecker(a.spec.name, a.spec.healthCheck, this, this.#log),
          listeners: new Map(),
        };
        this.#nodes.set(a.spec.name, node);
      } else if (node.address !== a.address) {
        for (const { listener } of node.listeners.values()) this.#drain(listener);
        node.listeners.clear();
        node.address = a.address;
      }
      node.spec = a.spec;
      node.checker.update(a.spec.healthCheck, a.spec.backends);
      await this.#applyListeners(a.spec.name, node, binds);
    }
    await Promise.all(binds);
  }

  async #applyListeners(name: string, node: RunningNode, binds: Promise<boolean>[]): Promise<void> {
    const backends: BackendHealth[] = [];
    for (const b of node.spec.backends) {
      const h = node.checker.get(b.instanceId);
      if (h !== undefined) backends.push(h);
    }
    const ports = new Set<number>();
    for (const l of node.spec.listeners) {
      ports.add(l.loadBalancerPort);
      const kind = listenerKind(l);
      const existing = node.listeners.get(l.loadBalancerPort);
      if (existing !== undefined && existing.kind === kind) {
        existing.listener.route({ backends, instancePort: l.instancePort });
        if (!existing.listener.bound) binds.push(existing.listener.listen());
        continue;
      }
      if (existing !== undefined) {
        node.listeners.delete(l.loadBalancerPort);
        this.#drain(existing.listener);
        // Let the closed listening socket go before binding the same port again.
        await new Promise((r) => setImmediate(r));
      }
      if (kind === null) {
        this.#logUnsupported(name, l);
        continue;
      }
      const listener = this.#createListener(kind, name, node.address, l.loadBalancerPort);
      listener.route({ backends, instancePort: l.instancePort });
      node.listeners.set(l.loadBalancerPort, { kind, listener });
      binds.push(listener.listen());
    }
    for (const [port, { listener }] of node.listeners) {
      if (ports.has(port)) continue;
      node.listeners.delete(port);
      this.#drain(listener);
    }
  }

  #createListener(kind: string, name: string, address: string, port: number): ProxyListener {
    const log = this.#log.child({ loadBalancer: name, address, port });
    const metrics = this.metrics.forLoadBalancer(name);
    if (kind === "HTTP") {
      return new HttpListener({ address, port, metrics, pools: this.#pools, balancer: this.#balancer, log });
    }
    return new TcpListener({ address, port, metrics, balancer: this.#balancer, log });
  }

  #drain(listener: ProxyListener): void {
    this.#draining.add(listener);
    void listener.close(REMOVAL_GRACE_MS).finally(() => this.#draining.delete(listener));
  }

  #logUnsupported(name: string, l: Listener): void {
    const key = `${name}:${l.loadBalancerPort}:${l.protocol}:${l.instanceProtocol}`;
    if (this.#unsupportedLogged.has(key)) return;
    this.#unsupportedLogged.add(key);
    this.#log.warn("listener protocol not served yet; reported unbound", {
      loadBalancer: name,
      port: l.loadBalancerPort,
      protocol: l.protocol,
      instanceProtocol: l.instanceProtocol,
    });
  }
}
