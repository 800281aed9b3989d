import { createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
} from "node:tls";
import type { Logger } from "../../util/logger.js";
import type { AccessLog } from "../access-log.js";
import { backendAuthFor } from "../backend-auth.js";
import type { BalancerFactory } from "../balancer/balancer.js";
import { bindServer, drainServer, trackSockets } from "../bind.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "../pools.js";
import { type BackendPolicySource, proxyProtocolFor } from "../proxy-protocol.js";
import { type ProxyListener, type RouteSpec, RouteTarget, type RoutingTable } from "../target.js";
import { type BackendPolicies, type ConnectionHost, TcpConnection } from "./connection.js";

const NO_POLICIES: BackendPolicies = { proxyProtocol: false, auth: null };

export interface TcpListenerOptions {
  readonly address: string;
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  readonly balancer: BalancerFactory;
  readonly log: Logger;
  /** SSL listener: terminate TLS with this context (certificate, key, negotiation policy). */
  readonly tls?: SecureContextOptions;
  /** The back ends speak TLS (instanceProtocol SSL). */
  readonly backendTls?: boolean;
  /** connectionSettings.idleTimeout in ms, applied to both sides of a connection (default 60 s). */
  readonly idleTimeoutMs?: number;
  /**
   * The load balancer's current policies and back-end server policies, read as each connection
   * is accepted: Proxy Protocol and BackendServerAuthentication on the routed instance port.
   */
  readonly policies?: () => BackendPolicySource | undefined;
}

/**
 * A TCP/SSL listener of a load-balancer node: each client connection is piped to one InService
 * back end, in both directions, with half-close passed through (see connection.ts). The client is
 * paused until the back end accepts, so a failed connect can be retried once on another back end.
 */
export class TcpListener implements ProxyListener, ConnectionHost {
  readonly port: number;
  /** @internal The back ends speak TLS: each upstream connection is wrapped once connected. */
  readonly backendTls: boolean;
  /** The load balancer's access log while logging is on: one line per connection. */
  accessLog: AccessLog | null = null;
  readonly #address: string;
  readonly metrics: LoadBalancerMetrics;
  readonly #balancer: BalancerFactory;
  readonly #log: Logger;
  readonly #server: Server;
  /** The same server when this is an SSL listener. */
  readonly #tlsServer: TlsServer | null = null;
  readonly #sockets = new Set<Socket>();
  /** Every accepted socket, including SSL connections still in their handshake. */
  readonly #accepted: Set<Socket>;
  #table: RoutingTable;
  #bound = false;
  #closed: Promise<void> | null = null;
  #idleTimeoutMs: number;
  #instancePort = 0;
  readonly #policySource: (() => BackendPolicySource | undefined) | null;
  /** The policies derived from the last spec and port seen (a new spec object means a new apply). */
  #policyCache: { spec: BackendPolicySource; port: number; policies: BackendPolicies } | null = null;

  constructor(opts: TcpListenerOptions) {
    this.port = opts.port;
    this.#address = opts.address;
    this.metrics = opts.metrics;
    this.#balancer = opts.balancer;
    this.#log = opts.log;
    this.#table = { targets: [], balancer: opts.balancer<RouteTarget>([]) };
    this.backendTls = opts.backendTls ?? false;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#policySource = opts.policies ?? null;
    if (opts.tls === undefined) {
      this.#server = createServer(
        { allowHalfOpen: true, pauseOnConnect: true },
        this.#onConnection.bind(this),
      );
    } else {
      // The client is handed over after the handshake; nothing flows until it is piped.
      const server = createTlsServer(
        { ...opts.tls, allowHalfOpen: true, handshakeTimeout: this.#idleTimeoutMs },
        this.#onConnection.bind(this),
      );
      this.#tlsServer = server;
      this.#server = server;
    }
    this.#accepted = trackSockets(this.#server);
  }

  get bound(): boolean {
    return this.#bound;
  }

  /** @internal */ get idleTimeoutMs(): number {
    return this.#idleTimeoutMs;
  }

  async listen(): Promise<boolean> {
    if (this.#bound || this.#closed !== null) return this.#bound;
    this.#bound = await bindServer(this.#server, this.#address, this.port, this.#log);
    return this.#bound;
  }

  /** SSL: new connections use this context (certificate rotation); open ones keep theirs. */
  setSecureContext(tls: SecureContextOptions): void {
    this.#tlsServer?.setSecureContext(tls);
  }

  /** New connections and open ones (re-armed from now) take the new idle timeout. */
  setIdleTimeout(ms: number): void {
    if (ms === this.#idleTimeoutMs) return;
    this.#idleTimeoutMs = ms;
    for (const s of this.#sockets) s.setTimeout(ms);
  }

  route(spec: RouteSpec): void {
    const targets = spec.backends.map((h) => new RouteTarget(h, spec.instancePort, null));
    this.#table = { targets, balancer: this.#balancer(targets) };
    this.#instancePort = spec.instancePort;
  }

  close(graceMs: number): Promise<void> {
    if (this.#closed !== null) {
      // Already draining: a shorter grace (shutdown during a removal's drain) cuts sooner.
      const timer = setTimeout(this.#destroyAll.bind(this), graceMs);
      timer.unref();
      void this.#closed.finally(() => clearTimeout(timer));
      return this.#closed;
    }
    const wasBound = this.#bound;
    this.#bound = false;
    this.#closed = wasBound
      ? drainServer(this.#server, graceMs, this.#destroyAll.bind(this))
      : Promise.resolve();
    return this.#closed;
  }

  /** @internal */ pick(exclude: RouteTarget | null): RouteTarget | undefined {
    return this.#table.balancer.pick(exclude ?? undefined);
  }

  /** @internal */ connectionError(): void {
    this.metrics.backendConnectionErrors++;
  }

  /** @internal */ track(s: Socket): void {
    this.#sockets.add(s);
  }

  /** @internal */ forget(s: Socket): void {
    this.#sockets.delete(s);
  }

  /** The back-end policies in force now, for the routed instance port. */
  backendPolicies(): BackendPolicies {
    const spec = this.#policySource?.();
    if (spec === undefined) return NO_POLICIES;
    const port = this.#instancePort;
    const cached = this.#policyCache;
    if (cached !== null && cached.spec === spec && cached.port === port) return cached.policies;
    const policies = { proxyProtocol: proxyProtocolFor(spec, port), auth: backendAuthFor(spec, port) };
    this.#policyCache = { spec, port, policies };
    return policies;
  }

  #onConnection(client: Socket): void {
    this.metrics.requestCount++;
    new TcpConnection(client, this, this.backendPolicies(), this.accessLog).start();
  }

  #destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    for (const s of this.#accepted) s.destroy();
  }
}
