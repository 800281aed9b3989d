/**
 * The agent's data plane: the load-balancer nodes this agent runs, their listeners, routing
 * tables and health checkers. `apply` levels the running set to the one given; request handling
 * never waits on it (tables are built aside and swapped in).
 */

import type { HealthFailureKind, InstanceHealthReport, NodeReport } from "../model/agent-protocol.js";
import { type Backend, isUsableTls, type ListenerSpec, type NodeSpec } from "../model/node-spec.js";
import type { TrafficReport } from "../model/traffic.js";
import type { Logger } from "../util/logger.js";
import { AccessLogs } from "./access-logs.js";
import type { BalancerFactory } from "./balancer/balancer.js";
import { leastOutstanding } from "./balancer/least-outstanding.js";
import { roundRobin } from "./balancer/round-robin.js";
import type { ListenSocketSource } from "./bind.js";
import { ConnectionBudget, type ConnectionLimits, limitsFor, openFileLimit } from "./connection-budget.js";
import { ConnectionDrainer, type DrainHold } from "./draining.js";
import { type HealthChangeSink, HealthChecker } from "./health/checker.js";
import type { BackendHealth } from "./health/state.js";
import { HttpListener } from "./http/listener.js";
import { listenerKind } from "./listener-kind.js";
import { ListenerNotices } from "./listener-notices.js";
import { LATENCY_BUCKETS_MS, ProxyMetrics } from "./metrics.js";
import { PoolRegistry } from "./pools.js";
import type { ListenerInput, ProxyListener } from "./target.js";
import { TcpListener } from "./tcp/listener.js";
import { type ListenerTls, listenerTls } from "./tls-context.js";

export interface NodeAssignment {
  readonly address: string;
  readonly spec: NodeSpec;
}

/** A registered back end of one load balancer, as metrics read it. */
export interface BackendView {
  readonly loadBalancer: string;
  readonly health: BackendHealth;
}

export interface ProxyRuntimeOptions {
  readonly logger: Logger;
  readonly zone: string;
  /** Where access logs go (`<dir>/<lb>/`); without it they are not written. */
  readonly accessLogDir?: string;
  /** The region in access-log file names (default us-east-1). */
  readonly region?: string;
  /** Connection caps (default: from the process's open-file limit, see connection-budget.ts). */
  readonly connectionLimits?: ConnectionLimits;
  /** Listening sockets held by the agent's keeper, so they outlive this process. */
  readonly sockets?: ListenSocketSource;
}

/** How long a removed listener lets in-flight work finish (ELB's default idle timeout). */
const REMOVAL_GRACE_MS = 60_000;
/** How long `close()` lets in-flight work finish. */
const SHUTDOWN_GRACE_MS = 5_000;
/** The open-file limit assumed where the process's own cannot be read. */
const DEFAULT_FILE_LIMIT = 1024;
/**
 * At start, listeners wait this long at most for every back end's first check: a listener that
 * accepted at once would answer 503 until then — to clients that waited in the accept queue of a
 * socket handed over from the agent process before.
 */
const FIRST_CHECKS_MS = 1500;
/** Health changes are coalesced for this long before listeners are told. */
const HEALTH_DEBOUNCE_MS = 10;

/** One load balancer's node on this agent. */
interface RunningNode {
  address: string;
  spec: NodeSpec;
  readonly checker: HealthChecker;
  readonly listeners: Map<number, RunningListener>;
}

interface RunningListener {
  readonly kind: string;
  readonly listener: ProxyListener;
  /** What it was last applied with: an identical input is not applied again. */
  applied: ListenerInput;
}

export class ProxyRuntime implements HealthChangeSink {
  readonly metrics = new ProxyMetrics();
  readonly connections: ConnectionBudget;
  readonly #log: Logger;
  readonly #pools: PoolRegistry;
  /** Classic ELB: least outstanding requests for HTTP/HTTPS listeners, round robin for TCP/SSL. */
  readonly #httpBalancer: BalancerFactory = leastOutstanding;
  readonly #tcpBalancer: BalancerFactory = roundRobin;
  readonly #nodes = new Map<string, RunningNode>();
  readonly #draining = new Set<ProxyListener>();
  readonly #healthCallbacks: (() => void)[] = [];
  readonly #notices: ListenerNotices;
  readonly #zone: string;
  readonly #drainer: ConnectionDrainer;
  /** The open access logs, by load-balancer name (only those with logging enabled). */
  readonly #accessLogs: AccessLogs;
  readonly #sockets: ListenSocketSource | undefined;
  #healthTimer: NodeJS.Timeout | null = null;
  #applying: Promise<void> = Promise.resolve();
  #started = false;
  #closed = false;

  constructor(opts: ProxyRuntimeOptions) {
    this.#log = opts.logger.child({ component: "proxy", zone: opts.zone });
    this.#notices = new ListenerNotices(this.#log);
    this.#pools = new PoolRegistry();
    this.#zone = opts.zone;
    this.#sockets = opts.sockets;
    this.#accessLogs = new AccessLogs({ dir: opts.accessLogDir, region: opts.region, log: this.#log });
    this.#drainer = new ConnectionDrainer(this.#log, () => this.healthChanged());
    this.connections = new ConnectionBudget(
      opts.connectionLimits ?? limitsFor(openFileLimit() ?? DEFAULT_FILE_LIMIT),
      this.#log,
    );
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

  /**
   * Each served load balancer's traffic since this process started serving it: a few counters,
   * the latency histogram and two gauges (model/traffic.ts), for the agent's status report.
   */
  traffic(): TrafficReport[] {
    const out: TrafficReport[] = [];
    const all = this.metrics.snapshot();
    for (const name of this.#nodes.keys()) {
      const m = all[name];
      out.push({
        loadBalancer: name,
        requests: m?.RequestCount ?? 0,
        http4xx: (m?.HTTPCode_ELB_4XX ?? 0) + (m?.HTTPCode_Backend_4XX ?? 0),
        http5xx: (m?.HTTPCode_ELB_5XX ?? 0) + (m?.HTTPCode_Backend_5XX ?? 0),
        latency:
          m === undefined ? new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) : m.Latency.buckets,
        surgeQueueLength: m?.SurgeQueueLength ?? 0,
        activeConnections: m?.EstimatedALBActiveConnectionCount ?? 0,
      });
    }
    return out;
  }

  /** Failed health checks per load balancer and reason kind, since each started here. */
  healthCheckFailures(): Record<string, ReadonlyMap<HealthFailureKind, number>> {
    const out: Record<string, ReadonlyMap<HealthFailureKind, number>> = {};
    for (const [name, node] of this.#nodes) out[name] = node.checker.failures;
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
        connections: this.connections.openOn(name),
        requestCount: this.metrics.requestCount(name),
        listeners: node.spec.listeners.map((l) => ({
          port: l.port,
          protocol: l.protocol,
          bound: node.listeners.get(l.port)?.listener.bound ?? false,
        })),
      });
    }
    return out;
  }

  /** Every registered back end of every load balancer with its health and numbers (for metrics). */
  backends(): BackendView[] {
    const out: BackendView[] = [];
    for (const [name, node] of this.#nodes) {
      for (const b of node.spec.backends) {
        const h = node.checker.get(b.instanceId);
        if (h !== undefined) out.push({ loadBalancer: name, health: h });
      }
    }
    return out;
  }

  /**
   * What keeps the node from serving: listeners it runs that are not bound. A listener it does
   * not run (a protocol not served, no usable certificate) is reported in `nodes()`, not here.
   */
  unboundListeners(): { readonly loadBalancer: string; readonly port: number }[] {
    const out: { loadBalancer: string; port: number }[] = [];
    for (const [name, node] of this.#nodes)
      for (const [port, { listener }] of node.listeners)
        if (!listener.bound) out.push({ loadBalancer: name, port });
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

  /**
   * Stops accepting and lets in-flight work finish for up to `graceMs`. Listening sockets held by
   * a keeper stay open there: the next agent process takes them over.
   */
  async close(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    await this.#applying;
    this.#closed = true;
    if (this.#healthTimer !== null) clearTimeout(this.#healthTimer);
    this.#healthTimer = null;
    this.#drainer.stop();
    const closing: Promise<void>[] = [];
    for (const node of this.#nodes.values()) {
      node.checker.stop();
      for (const { listener } of node.listeners.values()) closing.push(listener.close(graceMs));
    }
    this.#nodes.clear();
    for (const listener of this.#draining) closing.push(listener.close(graceMs));
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
      for (const { listener } of node.listeners.values()) this.#drain(listener, node.address);
      this.#nodes.delete(name);
      this.metrics.remove(name);
      this.#drainer.forget(name);
      this.#accessLogs.close(name);
    }

    const binds: ProxyListener[] = [];
    for (const a of wanted.values()) {
      let node = this.#nodes.get(a.spec.name);
      if (node !== undefined && node.spec === a.spec && node.address === a.address) {
        // The very spec it runs (an agent applying a delta passes unchanged ones as they were):
        // nothing to level, only a listener that failed to bind gets another try.
        for (const { listener } of node.listeners.values()) if (!listener.bound) binds.push(listener);
        continue;
      }
      if (node === undefined) {
        node = {
          address: a.address,
          spec: a.spec,
          checker: new HealthChecker(a.spec.name, a.spec.healthCheck, this, this.#log),
          listeners: new Map(),
        };
        this.#nodes.set(a.spec.name, node);
      } else if (node.address !== a.address) {
        for (const { listener } of node.listeners.values()) this.#drain(listener, node.address);
        node.listeners.clear();
        node.address = a.address;
      }
      this.#drainer.update(node.spec, a.spec, (id) => this.#holds(node, id));
      node.spec = a.spec;
      node.checker.update(a.spec.healthCheck, a.spec.backends);
      await this.#applyListeners(a.spec.name, node, binds);
      this.#applyAccessLog(a.spec.name, node);
    }
    if (!this.#started) {
      this.#started = true;
      await this.#firstChecks(Date.now() + FIRST_CHECKS_MS);
    }
    await Promise.all(binds.map((l) => l.listen()));
  }

  async #firstChecks(deadline: number): Promise<void> {
    const all = [...this.#nodes.values()].flatMap((n) => n.checker.all());
    while (Date.now() < deadline && !this.#closed && all.some((h) => !h.checked))
      await new Promise((r) => setTimeout(r, 10));
  }

  /** The back ends a node routes to: all of them with cross-zone load balancing, else its zone's. */
  #routable(spec: NodeSpec): readonly Backend[] {
    if (spec.crossZone) return spec.backends;
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

  async #applyListeners(name: string, node: RunningNode, binds: ProxyListener[]): Promise<void> {
    const backends: BackendHealth[] = [];
    for (const b of this.#routable(node.spec)) {
      const h = node.checker.get(b.instanceId);
      if (h !== undefined) backends.push(h);
    }
    const ports = new Set<number>();
    for (const l of node.spec.listeners) {
      ports.add(l.port);
      const kind = listenerKind(l);
      let existing = node.listeners.get(l.port);
      if (existing !== undefined && existing.kind !== kind) {
        node.listeners.delete(l.port);
        this.#drain(existing.listener, node.address);
        existing = undefined;
        // Let the closed listening socket go before binding the same port again.
        await new Promise((r) => setImmediate(r));
      }
      if (l.engine === "unsupported") {
        this.#notices.unsupported(name, l);
        continue;
      }
      let tls: ListenerTls | null = null;
      if (isUsableTls(l.tls)) {
        tls = listenerTls(l.tls);
        this.#notices.caveats(name, l.port, l.tls.caveats);
      } else if (l.tls !== null) {
        // An HTTPS/SSL listener with no usable certificate or policy is not served; a running
        // one keeps its last good context rather than dropping its clients.
        this.#notices.tlsProblem(name, l, l.tls.unusable, existing !== undefined);
        if (existing === undefined) continue;
        tls = existing.applied.tls;
      }
      const input: ListenerInput = { loadBalancer: name, spec: l, backends, tls };
      if (existing === undefined) {
        const listener = this.#createListener(l, name, node.address, tls);
        listener.apply(input);
        node.listeners.set(l.port, { kind, listener, applied: input });
        binds.push(listener);
        continue;
      }
      if (!sameInput(existing.applied, input)) {
        if (tls !== null && tls.identity !== existing.applied.tls?.identity)
          this.#log.info("listener TLS context replaced", { loadBalancer: name, port: l.port });
        existing.listener.apply(input);
        existing.applied = input;
      }
      if (!existing.listener.bound) binds.push(existing.listener);
    }
    for (const [port, { listener }] of node.listeners) {
      if (ports.has(port)) continue;
      node.listeners.delete(port);
      this.#drain(listener, node.address);
      this.metrics.removeListener(name, port);
    }
  }

  #createListener(l: ListenerSpec, name: string, address: string, tls: ListenerTls | null): ProxyListener {
    const log = this.#log.child({ loadBalancer: name, address, port: l.port });
    const common = {
      address,
      port: l.port,
      metrics: this.metrics.forListener(name, l.port),
      log,
      ...(tls === null ? {} : { tls }),
      backendTls: l.upstream.tls,
      idleTimeoutMs: l.idleTimeoutSeconds * 1000,
      budget: { budget: this.connections, node: name },
      ...(this.#sockets === undefined ? {} : { sockets: this.#sockets }),
    };
    if (l.engine === "http")
      return new HttpListener({ ...common, pools: this.#pools, balancer: this.#httpBalancer });
    return new TcpListener({ ...common, balancer: this.#tcpBalancer });
  }

  /** Opens, updates or closes the load balancer's access log, and hands it to its listeners. */
  #applyAccessLog(name: string, node: RunningNode): void {
    const log = this.#accessLogs.apply(name, node.address, node.spec.accessLog);
    for (const { listener } of node.listeners.values()) listener.accessLog = log;
  }

  /** A listener removed for good: it drains, and its socket (if a keeper holds it) is let go. */
  #drain(listener: ProxyListener, address: string): void {
    this.#draining.add(listener);
    void listener.close(REMOVAL_GRACE_MS).finally(() => this.#draining.delete(listener));
    // close() has closed this process's descriptor already; the keeper's goes now, so the
    // address:port refuses new connections instead of queueing them for nobody.
    this.#sockets?.release(address, listener.port);
  }
}

/** The same spec (by value), the same back ends (by identity, in order) and the same TLS context. */
function sameInput(a: ListenerInput, b: ListenerInput): boolean {
  if (a.loadBalancer !== b.loadBalancer || a.tls?.identity !== b.tls?.identity) return false;
  if (a.backends.length !== b.backends.length || a.backends.some((h, i) => b.backends[i] !== h)) return false;
  return a.spec === b.spec || JSON.stringify(a.spec) === JSON.stringify(b.spec);
}
