import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import type { Logger } from "../../util/logger.js";
import type { AccessLog } from "../access-log.js";
import { backendAuth } from "../backend-auth.js";
import type { BalancerFactory } from "../balancer/balancer.js";
import { bindServer, drainServer, type ListenSocketSource, trackSockets } from "../bind.js";
import type { ConnectionBudget } from "../connection-budget.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "../pools.js";
import { type ListenerInput, type ProxyListener, RouteTarget, type RoutingTable } from "../target.js";
import type { ListenerTls } from "../tls-context.js";
import { type BackendPolicies, type ConnectionHost, TcpConnection } from "./connection.js";

const NO_POLICIES: BackendPolicies = { proxyProtocol: false, auth: null };

export interface TcpListenerOptions {
  readonly address: string;
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  readonly balancer: BalancerFactory;
  readonly log: Logger;
  /** SSL listener: terminate TLS with this context (certificate, key, negotiation policy). */
  readonly tls?: ListenerTls;
  /** The back ends speak TLS (instanceProtocol SSL). */
  readonly backendTls?: boolean;
  /** connectionSettings.idleTimeout in ms, applied to both sides of a connection (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** The agent's connection caps; this listener counts against its load balancer's node. */
  readonly budget?: { readonly budget: ConnectionBudget; readonly node: string };
  /** Where the listening socket comes from (a keeper that outlives this process); else bound here. */
  readonly sockets?: ListenSocketSource;
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
  readonly #source: ListenSocketSource | undefined;
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
  /** Proxy Protocol and back-end authentication, taken by each connection as it is accepted. */
  #policies: BackendPolicies = NO_POLICIES;
  #tlsIdentity = "";

  constructor(opts: TcpListenerOptions) {
    this.port = opts.port;
    this.#address = opts.address;
    this.metrics = opts.metrics;
    this.#balancer = opts.balancer;
    this.#log = opts.log;
    this.#table = { targets: [], balancer: opts.balancer<RouteTarget>([]) };
    this.backendTls = opts.backendTls ?? false;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (opts.tls === undefined) {
      this.#server = createServer(
        { allowHalfOpen: true, pauseOnConnect: true },
        this.#onConnection.bind(this),
      );
    } else {
      // The client is handed over after the handshake; nothing flows until it is piped.
      const server = createTlsServer(
        { ...opts.tls.context, allowHalfOpen: true, handshakeTimeout: this.#idleTimeoutMs },
        this.#onConnection.bind(this),
      );
      this.#tlsIdentity = opts.tls.identity;
      this.#tlsServer = server;
      this.#server = server;
    }
    this.#accepted = trackSockets(this.#server);
    opts.budget?.budget.guard(this.#server, opts.budget.node, this.metrics);
    this.#source = opts.sockets;
  }

  get bound(): boolean {
    return this.#bound;
  }

  /** @internal */ get idleTimeoutMs(): number {
    return this.#idleTimeoutMs;
  }

  async listen(): Promise<boolean> {
    if (this.#bound || this.#closed !== null) return this.#bound;
    this.#bound = await bindServer(this.#server, this.#address, this.port, this.#log, this.#source);
    return this.#bound;
  }

  /**
   * New connections take the new table, back-end policies and TLS context (open ones keep
   * theirs); every open connection takes the new idle timeout, re-armed from now.
   */
  apply(input: ListenerInput): void {
    const spec = input.spec;
    const port = spec.upstream.port;
    const targets = input.backends.map((h) => new RouteTarget(h, port, null));
    const table = { targets, balancer: this.#balancer(targets) };
    const policies: BackendPolicies = {
      proxyProtocol: spec.upstream.proxyProtocol,
      auth: this.backendTls ? backendAuth(spec.upstream.authentication) : null,
    };
    if (input.tls !== null && input.tls.identity !== this.#tlsIdentity) {
      this.#tlsServer?.setSecureContext(input.tls.context);
      this.#tlsIdentity = input.tls.identity;
    }
    this.#table = table;
    this.#policies = policies;
    const ms = spec.idleTimeoutSeconds * 1000;
    if (ms !== this.#idleTimeoutMs) {
      this.#idleTimeoutMs = ms;
      for (const s of this.#sockets) s.setTimeout(ms);
    }
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

  #onConnection(client: Socket): void {
    // Closed by the connection cap as it was accepted.
    if (client.destroyed) return;
    this.metrics.requestCount++;
    new TcpConnection(client, this, this.#policies, this.accessLog).start();
  }

  #destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    for (const s of this.#accepted) s.destroy();
  }
}
