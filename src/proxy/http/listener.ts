import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { SecureContextOptions, Server as TlsServer } from "node:tls";
import type { Logger } from "../../util/logger.js";
import type { AccessLog } from "../access-log.js";
import type { BalancerFactory } from "../balancer/balancer.js";
import { bindServer, drainServer } from "../bind.js";
import type { BackendHealth } from "../health/state.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { PoolRegistry } from "../pools.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "../pools.js";
import {
  OutstandingCount,
  type ProxyListener,
  type RouteSpec,
  RouteTarget,
  type RoutingTable,
} from "../target.js";
import { Exchange, type ExchangeHost, elbErrorBytes, ProxyResponse, replyElbError } from "./exchange.js";
import { upstreamRequestHeaders } from "./headers.js";

export interface HttpListenerOptions {
  readonly address: string;
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  readonly pools: PoolRegistry;
  readonly balancer: BalancerFactory;
  readonly log: Logger;
  /** HTTPS listener: terminate TLS with this context (certificate, key, negotiation policy). */
  readonly tls?: SecureContextOptions;
  /** The back ends speak HTTPS (instanceProtocol HTTPS). */
  readonly backendTls?: boolean;
  /** connectionSettings.idleTimeout in ms (default ELB's 60 s). */
  readonly idleTimeoutMs?: number;
}

/**
 * An HTTP listener of a load-balancer node: node:http on the client side, undici pools with raw
 * dispatch handlers on the back-end side. The request path is one method of early returns.
 */
export class HttpListener implements ProxyListener, ExchangeHost {
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  /** Set by the runtime while the load balancer's access log is enabled. */
  accessLog: AccessLog | null = null;
  readonly #address: string;
  readonly #portText: string;
  readonly #pools: PoolRegistry;
  readonly #balancer: BalancerFactory;
  readonly #log: Logger;
  readonly #server: Server<typeof IncomingMessage, typeof ProxyResponse>;
  /** The same server when this is an HTTPS listener. */
  readonly #tlsServer: TlsServer | null = null;
  readonly #proto: string;
  readonly #backendTls: boolean;
  #table: RoutingTable;
  /** In-flight requests per back end, carried from table to table. */
  #counts = new Map<BackendHealth, OutstandingCount>();
  #bound = false;
  #draining = false;
  #closed: Promise<void> | null = null;
  #inFlight = 0;
  #idleTimeoutMs: number;

  constructor(opts: HttpListenerOptions) {
    this.port = opts.port;
    this.metrics = opts.metrics;
    this.#address = opts.address;
    this.#portText = String(opts.port);
    this.#pools = opts.pools;
    this.#balancer = opts.balancer;
    this.#log = opts.log;
    this.#table = { targets: [], balancer: opts.balancer<RouteTarget>([]) };
    this.#proto = opts.tls === undefined ? "http" : "https";
    this.#backendTls = opts.backendTls ?? false;
    if (opts.tls === undefined) {
      this.#server = createServer<typeof IncomingMessage, typeof ProxyResponse>(
        { ServerResponse: ProxyResponse },
        this.#onRequest.bind(this),
      );
    } else {
      const server = createHttpsServer<typeof IncomingMessage, typeof ProxyResponse>(
        { ...opts.tls, ServerResponse: ProxyResponse },
        this.#onRequest.bind(this),
      );
      this.#tlsServer = server;
      this.#server = server;
    }
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#server.keepAliveTimeout = clientKeepAliveTimeout(this.#idleTimeoutMs);
  }

  get idleTimeoutMs(): number {
    return this.#idleTimeoutMs;
  }

  /**
   * The client keep-alive timeout (open connections take it at their next idle period) and the
   * back-end timeout of requests dispatched from now on.
   */
  setIdleTimeout(ms: number): void {
    this.#idleTimeoutMs = ms;
    this.#server.keepAliveTimeout = clientKeepAliveTimeout(ms);
  }

  get bound(): boolean {
    return this.#bound;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async listen(): Promise<boolean> {
    if (this.#bound || this.#closed !== null) return this.#bound;
    this.#bound = await bindServer(this.#server, this.#address, this.port, this.#log);
    return this.#bound;
  }

  /** HTTPS: new connections use this context (certificate rotation); open ones keep theirs. */
  setSecureContext(tls: SecureContextOptions): void {
    this.#tlsServer?.setSecureContext(tls);
  }

  route(spec: RouteSpec): void {
    const counts = new Map<BackendHealth, OutstandingCount>();
    const targets = spec.backends.map((h) => {
      const count = this.#counts.get(h) ?? new OutstandingCount();
      counts.set(h, count);
      return new RouteTarget(
        h,
        spec.instancePort,
        this.#pools.acquire(h.address, spec.instancePort, this.#backendTls),
        count,
      );
    });
    // A removed back end's count stays with the old targets its in-flight exchanges hold.
    this.#counts = counts;
    const old = this.#table;
    this.#table = { targets, balancer: this.#balancer(targets) };
    this.#releaseTable(old);
  }

  /** @internal For tests: the in-flight requests of each target of the current table. */
  outstanding(): number[] {
    return this.#table.targets.map((t) => t.outstanding);
  }

  pick(exclude: RouteTarget): RouteTarget | undefined {
    return this.#table.balancer.pick(exclude);
  }

  exchangeDone(): void {
    this.#inFlight--;
    if (this.#draining) setImmediate(closeIdle, this.#server);
  }

  close(graceMs: number): Promise<void> {
    if (this.#closed !== null) {
      // Already draining: a shorter grace (shutdown during a removal's drain) cuts sooner.
      const timer = setTimeout(closeAll, graceMs, this.#server);
      timer.unref();
      void this.#closed.finally(() => clearTimeout(timer));
      return this.#closed;
    }
    this.#draining = true;
    const wasBound = this.#bound;
    this.#bound = false;
    this.#closed = (wasBound ? drainServer(this.#server, graceMs, closeAll) : Promise.resolve()).then(() => {
      this.#releaseTable(this.#table);
      this.#table = { targets: [], balancer: this.#balancer<RouteTarget>([]) };
    });
    return this.#closed;
  }

  #onRequest(req: IncomingMessage, res: ProxyResponse): void {
    this.metrics.requestCount++;
    if (this.#draining) res.shouldKeepAlive = false;
    const target = this.#table.balancer.pick();
    if (target === undefined) {
      this.accessLog?.record(req, req.socket, performance.now(), null, 503, 0, -1, elbErrorBytes(503));
      replyElbError(res, 503, this.metrics);
      return;
    }
    const headers = upstreamRequestHeaders(
      req.rawHeaders,
      req.socket.remoteAddress ?? "",
      this.#portText,
      this.#proto,
    );
    this.#inFlight++;
    new Exchange(this, req, res, target, headers).dispatch();
  }

  #releaseTable(table: RoutingTable): void {
    for (const t of table.targets) if (t.pool !== null) this.#pools.release(t.pool);
  }
}

/**
 * node:http closes an idle keep-alive connection 1 s after `keepAliveTimeout` (its trailing
 * margin against a client reusing the connection as it closes), so it is set 1 s short of the
 * idle timeout; at least 1 ms, as 0 would mean no timeout at all.
 */
const NODE_KEEP_ALIVE_TRAILING_MS = 1000;

function clientKeepAliveTimeout(idleTimeoutMs: number): number {
  return Math.max(1, idleTimeoutMs - NODE_KEEP_ALIVE_TRAILING_MS);
}

function closeIdle(server: Server): void {
  server.closeIdleConnections();
}

function closeAll(server: Server): void {
  server.closeAllConnections();
}
