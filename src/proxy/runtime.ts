/**
 * The agent's data plane: the load-balancer nodes this agent runs, their listeners, routing
 * tables and health checkers. `apply` levels the running set to the one given; request handling
 * never waits on it (tables are built aside and swapped in).
 */

import type {
  BackendSpec,
  InstanceHealthReport,
  NodeLoadBalancer,
  NodeReport,
} from "../model/agent-protocol.js";
import { DEFAULT_ATTRIBUTES, desyncMitigationMode } from "../model/attributes.js";
import type { Listener } from "../model/types.js";
import type { Logger } from "../util/logger.js";
import { AccessLogs } from "./access-logs.js";
import type { BalancerFactory } from "./balancer/balancer.js";
import { leastOutstanding } from "./balancer/least-outstanding.js";
import { roundRobin } from "./balancer/round-robin.js";
import { ConnectionDrainer, type DrainHold } from "./draining.js";
import { type HealthChangeSink, HealthChecker } from "./health/checker.js";
import type { BackendHealth } from "./health/state.js";
import { HttpListener, httpListenerPolicy } from "./http/listener.js";
import { listenerKind, terminatesTls } from "./listener-kind.js";
import { ProxyMetrics } from "./metrics.js";
import { PoolRegistry } from "./pools.js";
import type { ProxyListener } from "./target.js";
import { TcpListener } from "./tcp/listener.js";
import { type ListenerTls, listenerTls } from "./tls-context.js";

export interface NodeAssignment {
  readonly address: string;
  readonly spec: NodeLoadBalancer;
}

export interface ProxyRuntimeOptions {
  readonly logger: Logger;
  readonly zone: string;
  /** Where access logs go (`<dir>/<lb>/`); without it they are not written. */
  readonly accessLogDir?: string;
  /** The region in access-log file names (default us-east-1). */
  readonly region?: string;
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
  readonly listeners: Map<number, RunningListener>;
}

interface RunningListener {
  readonly kind: string;
  readonly listener: ProxyListener;
  /** HTTPS/SSL: the identity of the TLS context in use (a change is applied in place). */
  tlsIdentity?: string;
}

export class ProxyRuntime implements HealthChangeSink {
  readonly metrics = new ProxyMetrics();
  readonly #log: Logger;
  readonly #pools: PoolRegistry;
  /** Classic ELB: least outstanding requests for HTTP/HTTPS listeners, round robin for TCP/SSL. */
  readonly #httpBalancer: BalancerFactory = leastOutstanding;
  readonly #tcpBalancer: BalancerFactory = roundRobin;
  readonly #nodes = new Map<string, RunningNode>();
  readonly #draining = new Set<ProxyListener>();
  readonly #healthCallbacks: (() => void)[] = [];
  readonly #unsupportedLogged = new Set<string>();
  readonly #zone: string;
  readonly #drainer: ConnectionDrainer;
  /** The open access logs, by load-balancer name (only those with logging enabled). */
  readonly #accessLogs: AccessLogs;
  #healthTimer: NodeJS.Timeout | null = null;
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: ProxyRuntimeOptions) {
    this.#log = opts.logger.child({ component: "proxy", zone: opts.zone });
    this.#pools = new PoolRegistry();
    this.#zone = opts.zone;
    this.#accessLogs = new AccessLogs({ dir: opts.accessLogDir, region: opts.region, log: this.#log });
    this.#drainer = new ConnectionDrainer(this.#log, () => this.healthChanged());
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
      out.push(...this.#drainer.reports(name));
    }
    return out;
  }

  nodes(): NodeReport[] {
    const out: NodeReport[] = [];
    for (const [name, node] of this.#nodes) {
      let routableInService = 0;
      for (const b of this.#routable(node.spec))
        if (node.checker.get(b.instanceId)?.inService) routableInService++;
      out.push({
        loadBalancer: name,
        address: node.address,
        routableInService,
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
    this.#drainer.stop();
    const closing: Promise<void>[] = [];
    for (const node of this.#nodes.values()) {
      node.checker.stop();
      for (const { listener } of node.listeners.values()) closing.push(listener.close(SHUTDOWN_GRACE_MS));
    }
    this.#nodes.clear();
    for (const listener of this.#draining) closing.push(listener.close(SHUTDOWN_GRACE_MS));
    await Promise.all(closing);
    await this.#accessLogs.closeAll();
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
      this.#drainer.forget(name);
      this.#accessLogs.close(name);
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
      this.#drainer.update(node.spec, a.spec, (id) => this.#holds(node, id));
      node.spec = a.spec;
      node.checker.update(a.spec.healthCheck, a.spec.backends, a.spec);
      await this.#applyListeners(a.spec.name, node, binds);
      this.#applyAccessLog(a.spec.name, node);
    }
    await Promise.all(binds);
  }

  /** The back ends a node routes to: all of them with cross-zone load balancing, else its zone's. */
  #routable(spec: NodeLoadBalancer): readonly BackendSpec[] {
    if ((spec.attributes ?? DEFAULT_ATTRIBUTES).crossZoneLoadBalancing.enabled) return spec.backends;
    return spec.backends.filter((b) => b.zone === this.#zone);
  }

  /** A back end's in-flight requests on each of the node's HTTP listeners (for draining). */
  #holds(node: RunningNode, instanceId: string): DrainHold[] {
    const h = node.checker.get(instanceId);
    if (h === undefined) return [];
    const holds: DrainHold[] = [];
    for (const { listener } of node.listeners.values()) {
      const held = listener instanceof HttpListener ? listener.holdBackend(h) : null;
      if (held !== null) holds.push(held);
    }
    return holds;
  }

  async #applyListeners(name: string, node: RunningNode, binds: Promise<boolean>[]): Promise<void> {
    const backends: BackendHealth[] = [];
    for (const b of this.#routable(node.spec)) {
      const h = node.checker.get(b.instanceId);
      if (h !== undefined) backends.push(h);
    }
    const attributes = node.spec.attributes ?? DEFAULT_ATTRIBUTES;
    const desyncMode = desyncMitigationMode(attributes);
    const idleTimeoutMs = attributes.connectionSettings.idleTimeout * 1000;
    const ports = new Set<number>();
    for (const l of node.spec.listeners) {
      ports.add(l.loadBalancerPort);
      const kind = listenerKind(l);
      const existing = node.listeners.get(l.loadBalancerPort);
      let tls: ListenerTls | null = null;
      if (kind !== null && terminatesTls(kind)) {
        const t = listenerTls(node.spec, l);
        if (typeof t === "string") {
          // An HTTPS/SSL listener with no usable certificate or policy is not served; a running
          // one keeps its last good context rather than dropping its clients.
          this.#logTlsProblem(name, l, t, existing !== undefined && existing.kind === kind);
          if (existing === undefined || existing.kind !== kind) {
            if (existing !== undefined) {
              node.listeners.delete(l.loadBalancerPort);
              this.#drain(existing.listener);
            }
            continue;
          }
        } else {
          tls = t;
        }
      }
      if (existing !== undefined && existing.kind === kind) {
        if (tls !== null && existing.tlsIdentity !== tls.identity) {
          const target = existing.listener;
          if (target instanceof HttpListener || target instanceof TcpListener)
            target.setSecureContext(tls.context);
          existing.tlsIdentity = tls.identity;
          this.#logCaveats(name, l, tls);
          this.#log.info("listener TLS context replaced", { loadBalancer: name, port: l.loadBalancerPort });
        }
        existing.listener.setIdleTimeout(idleTimeoutMs);
        if (existing.listener instanceof HttpListener)
          existing.listener.setPolicy(httpListenerPolicy(node.spec, l, desyncMode));
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
      const listener = this.#createListener(kind, name, node.address, l.loadBalancerPort, tls, idleTimeoutMs);
      if (listener instanceof HttpListener) listener.setPolicy(httpListenerPolicy(node.spec, l, desyncMode));
      listener.route({ backends, instancePort: l.instancePort });
      const running: RunningListener = { kind, listener };
      if (tls !== null) {
        running.tlsIdentity = tls.identity;
        this.#logCaveats(name, l, tls);
      }
      node.listeners.set(l.loadBalancerPort, running);
      binds.push(listener.listen());
    }
    for (const [port, { listener }] of node.listeners) {
      if (ports.has(port)) continue;
      node.listeners.delete(port);
      this.#drain(listener);
    }
  }

  #createListener(
    kind: string,
    name: string,
    address: string,
    port: number,
    tls: ListenerTls | null,
    idleTimeoutMs: number,
  ): ProxyListener {
    const log = this.#log.child({ loadBalancer: name, address, port });
    const metrics = this.metrics.forLoadBalancer(name);
    const context = tls === null ? {} : { tls: tls.context };
    if (kind === "HTTP" || kind.startsWith("HTTP:") || kind.startsWith("HTTPS:")) {
      const backendTls = kind.endsWith(":HTTPS");
      return new HttpListener({
        address,
        port,
        metrics,
        pools: this.#pools,
        balancer: this.#httpBalancer,
        log,
        ...context,
        backendTls,
        idleTimeoutMs,
      });
    }
    const backendTls = kind.endsWith(":SSL");
    return new TcpListener({
      address,
      port,
      metrics,
      balancer: this.#tcpBalancer,
      log,
      ...context,
      backendTls,
      idleTimeoutMs,
      // Read as each connection is accepted: Proxy Protocol and back-end authentication follow applies.
      policies: () => this.#nodes.get(name)?.spec,
    });
  }

  #logTlsProblem(name: string, l: Listener, reason: string, keptRunning: boolean): void {
    const key = `${name}:${l.loadBalancerPort}:tls:${reason}`;
    if (this.#unsupportedLogged.has(key)) return;
    this.#unsupportedLogged.add(key);
    this.#log.error(
      keptRunning
        ? "listener TLS context unusable; keeping the running one"
        : "listener TLS context unusable; reported unbound",
      { loadBalancer: name, port: l.loadBalancerPort, protocol: l.protocol, reason },
    );
  }

  #logCaveats(name: string, l: Listener, tls: ListenerTls): void {
    if (tls.caveats.length === 0) return;
    this.#log.warn("SSL negotiation policy not honoured exactly", {
      loadBalancer: name,
      port: l.loadBalancerPort,
      caveats: tls.caveats,
    });
  }

  /** Opens, updates or closes the load balancer's access log, and hands it to its listeners. */
  #applyAccessLog(name: string, node: RunningNode): void {
    const log = this.#accessLogs.apply(name, node.address, node.spec.attributes?.accessLog);
    for (const { listener } of node.listeners.values()) {
      if (listener instanceof HttpListener || listener instanceof TcpListener) listener.accessLog = log;
    }
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
