import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import type { DesyncMitigationMode } from "../../model/node-spec.js";
import type { Logger } from "../../util/logger.js";
import type { AccessLog } from "../access-log.js";
import { type BackendAuth, backendAuth } from "../backend-auth.js";
import type { BalancerFactory } from "../balancer/balancer.js";
import { bindServer, drainServer, type ListenSocketSource, trackSockets } from "../bind.js";
import type { ConnectionBudget } from "../connection-budget.js";
import type { BackendHealth } from "../health/state.js";
import type { ParsedRequest } from "../http1/request.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { PoolRegistry } from "../pools.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "../pools.js";
import {
  type ListenerInput,
  OutstandingCount,
  type ProxyListener,
  RouteTarget,
  type RoutingTable,
} from "../target.js";
import type { ListenerTls } from "../tls-context.js";
import { ClientConnection, type ClientHost } from "./client.js";
import { elbErrorBytes, elbResponse } from "./elb-errors.js";
import { Exchange } from "./exchange.js";
import type { ExchangeHost } from "./exchange-ports.js";
import { upstreamRequestHead } from "./headers.js";
import { accessLogRequest } from "./log-view.js";
import {
  cookieValue,
  ELB_COOKIE,
  requestCookies,
  type StickyPolicy,
  type StickyRequest,
  stickyToken,
} from "./stickiness.js";

/** Back-end certificates are not verified against CAs (as ELB); BackendServerAuthentication checks keys. */
const BACKEND_TLS = { rejectUnauthorized: false };

/** ELB's surge queue: requests waiting for a back-end connection, per load-balancer node. */
export const SURGE_QUEUE_CAPACITY = 1024;

export interface HttpListenerOptions {
  readonly address: string;
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  readonly pools: PoolRegistry;
  readonly balancer: BalancerFactory;
  readonly log: Logger;
  /** HTTPS listener: terminate TLS with this context (certificate, key, negotiation policy). */
  readonly tls?: ListenerTls;
  /** The back ends speak HTTPS (instanceProtocol HTTPS). */
  readonly backendTls?: boolean;
  /** connectionSettings.idleTimeout in ms (default ELB's 60 s). */
  readonly idleTimeoutMs?: number;
  /** Requests waiting for a back-end connection at most (default ELB's 1,024). */
  readonly surgeCapacity?: number;
  /** The agent's connection caps; this listener counts against its load balancer's node. */
  readonly budget?: { readonly budget: ConnectionBudget; readonly node: string };
  /** Where the listening socket comes from (a keeper that outlives this process); else bound here. */
  readonly sockets?: ListenSocketSource;
}

/** How this listener treats requests, from its spec; replaced whole on apply. */
interface HttpListenerPolicy {
  readonly desyncMode: DesyncMitigationMode;
  readonly stickiness: StickyPolicy | null;
  /** The load balancer's name (sticky cookie values name its instances). */
  readonly loadBalancer: string;
  /** HTTPS back ends: the BackendServerAuthentication of the instance port, or null. */
  readonly backendAuth: BackendAuth | null;
}

const DEFAULT_POLICY: HttpListenerPolicy = {
  desyncMode: "defensive",
  stickiness: null,
  loadBalancer: "",
  backendAuth: null,
};

/**
 * An HTTP or HTTPS listener of a load-balancer node on raw sockets: a net (or TLS) server whose
 * connections parse their own requests and speak to back ends through keep-alive origin pools.
 */
export class HttpListener implements ProxyListener, ExchangeHost, ClientHost {
  readonly port: number;
  readonly metrics: LoadBalancerMetrics;
  /** Set by the runtime while the load balancer's access log is enabled. */
  accessLog: AccessLog | null = null;
  readonly surgeCapacity: number;
  readonly #address: string;
  readonly #portText: string;
  /** The Host an HTTP/1.0 request without one is given: the node's address and port. */
  readonly #defaultHost: string;
  readonly #pools: PoolRegistry;
  readonly #balancer: BalancerFactory;
  readonly #log: Logger;
  readonly #source: ListenSocketSource | undefined;
  readonly #server: Server;
  readonly #tlsServer: TlsServer | null = null;
  readonly #proto: string;
  readonly #backendTls: boolean;
  readonly #clients = new Set<ClientConnection>();
  /** Every accepted socket (for HTTPS, also those still in their TLS handshake). */
  readonly #sockets: Set<Socket>;
  #policy: HttpListenerPolicy = DEFAULT_POLICY;
  #table: RoutingTable;
  #byToken = new Map<string, RouteTarget>();
  /** In-flight requests per back end, carried from table to table. */
  #counts = new Map<BackendHealth, OutstandingCount>();
  #bound = false;
  #draining = false;
  #closed: Promise<void> | null = null;
  #inFlight = 0;
  #idleTimeoutMs: number;
  /** HTTPS: the identity of the TLS context in use. */
  #tlsIdentity = "";

  constructor(opts: HttpListenerOptions) {
    this.port = opts.port;
    this.metrics = opts.metrics;
    this.#address = opts.address;
    this.#portText = String(opts.port);
    const host = opts.address.includes(":") ? `[${opts.address}]` : opts.address;
    this.#defaultHost = opts.port === 80 ? host : `${host}:${opts.port}`;
    this.#pools = opts.pools;
    this.#balancer = opts.balancer;
    this.#log = opts.log;
    this.surgeCapacity = opts.surgeCapacity ?? SURGE_QUEUE_CAPACITY;
    this.#table = { targets: [], balancer: opts.balancer<RouteTarget>([]) };
    this.#proto = opts.tls === undefined ? "http" : "https";
    this.#backendTls = opts.backendTls ?? false;
    const onConnection = (socket: Socket): void => {
      // Closed by the connection cap as it was accepted.
      if (socket.destroyed) return;
      const client = new ClientConnection(socket, this);
      this.#clients.add(client);
      if (this.#draining) client.closeWhenIdle();
    };
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (opts.tls === undefined) {
      this.#server = createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
    } else {
      const server = createTlsServer(
        { ...opts.tls.context, allowHalfOpen: true, handshakeTimeout: this.#idleTimeoutMs },
        onConnection,
      );
      this.#tlsIdentity = opts.tls.identity;
      server.on("tlsClientError", () => {
        // A failed handshake: the socket is closed by node:tls.
      });
      this.#tlsServer = server;
      this.#server = server;
    }
    this.#sockets = trackSockets(this.#server);
    opts.budget?.budget.guard(this.#server, opts.budget.node, this.metrics);
    this.#source = opts.sockets;
  }

  get idleTimeoutMs(): number {
    return this.#idleTimeoutMs;
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
    this.#bound = await bindServer(this.#server, this.#address, this.port, this.#log, this.#source);
    return this.#bound;
  }

  /**
   * The new policy, idle timeout (each open connection takes it at its next request), TLS
   * context (new connections; open ones keep theirs) and routing table, swapped in together.
   */
  apply(input: ListenerInput): void {
    const spec = input.spec;
    const policy: HttpListenerPolicy = {
      desyncMode: spec.desyncMode,
      stickiness: spec.stickiness.kind === "none" ? null : spec.stickiness,
      loadBalancer: input.loadBalancer,
      backendAuth: this.#backendTls ? backendAuth(spec.upstream.authentication) : null,
    };
    const table = this.#buildTable(input.backends, spec.upstream.port, policy);
    if (input.tls !== null && input.tls.identity !== this.#tlsIdentity) {
      this.#tlsServer?.setSecureContext(input.tls.context);
      this.#tlsIdentity = input.tls.identity;
    }
    this.#idleTimeoutMs = spec.idleTimeoutSeconds * 1000;
    this.#policy = policy;
    const old = this.#table;
    this.#table = table.table;
    this.#counts = table.counts;
    this.#byToken = table.byToken;
    this.#releaseTable(old);
  }

  /** A routing table for `backends` on `port`; a removed back end's count stays with the old targets. */
  #buildTable(
    backends: readonly BackendHealth[],
    port: number,
    policy: HttpListenerPolicy,
  ): {
    table: RoutingTable;
    counts: Map<BackendHealth, OutstandingCount>;
    byToken: Map<string, RouteTarget>;
  } {
    const counts = new Map<BackendHealth, OutstandingCount>();
    const byToken = new Map<string, RouteTarget>();
    const tls = this.#backendTls ? BACKEND_TLS : null;
    const targets = backends.map((h) => {
      const count = this.#counts.get(h) ?? new OutstandingCount();
      counts.set(h, count);
      const target = new RouteTarget(
        h,
        port,
        this.#pools.acquire(h.address, port, tls, policy.backendAuth),
        count,
        stickyToken(policy.loadBalancer, h.instanceId),
      );
      byToken.set(target.stickyToken, target);
      return target;
    });
    return { table: { targets, balancer: this.#balancer(targets) }, counts, byToken };
  }

  /**
   * Connection draining of back end `h`, before a table without it is routed: its in-flight
   * count on this listener, and a cut that ends its remaining requests (when its pool is no
   * longer used by any table).
   */
  holdBackend(h: BackendHealth): { count: OutstandingCount; cut: () => void } | null {
    const count = this.#counts.get(h);
    const target = this.#table.targets.find((t) => t.health === h);
    if (count === undefined || target === undefined) return null;
    const pool = target.pool;
    return {
      count,
      cut: () => {
        if (pool?.closed) pool.destroy();
      },
    };
  }

  /** @internal For tests: the in-flight requests of each target of the current table. */
  outstanding(): number[] {
    return this.#table.targets.map((t) => t.outstanding);
  }

  pick(exclude?: RouteTarget): RouteTarget | undefined {
    return this.#table.balancer.pick(exclude);
  }

  exchangeDone(): void {
    this.#inFlight--;
  }

  connectionClosed(client: ClientConnection): void {
    this.#clients.delete(client);
  }

  startExchange(client: ClientConnection, req: ParsedRequest): Exchange | null {
    const m = this.metrics;
    m.requestCount++;
    // A load balancer is not a forward proxy: a tunnel through it would also poison the pool.
    if (req.method === "CONNECT") return this.#refuse(client, 405);
    const policy = this.#policy;
    let closeAfter = this.#draining;
    if (req.desync !== "Compliant") {
      m.desyncNonCompliant++;
      const mode = policy.desyncMode;
      if (mode === "strictest" || (mode === "defensive" && req.desync === "Severe"))
        return this.#refuse(client, 400);
      // Ambiguous requests (and, in monitor mode, Severe ones) go through on a connection that
      // is not reused afterwards on either side.
      if (req.desync !== "Acceptable") closeAfter = true;
    }
    let sticky: StickyRequest | null = null;
    let target: RouteTarget | undefined;
    const stickiness = policy.stickiness;
    if (stickiness !== null) {
      const cookies = requestCookies(req.headers);
      const token = cookieValue(cookies, ELB_COOKIE);
      sticky = { policy: stickiness, token };
      if (
        token !== undefined &&
        (stickiness.kind === "lb-cookie" || cookieValue(cookies, stickiness.cookieName))
      ) {
        const stuck = this.#byToken.get(token);
        if (stuck?.inService) target = stuck;
      }
    }
    target ??= this.#table.balancer.pick();
    if (target === undefined) {
      m.elb5xx++;
      const keep = !closeAfter && req.keepAlive && req.contentLength <= 0 && !req.chunked;
      client.socket.write(elbResponse(503, keep));
      this.accessLog?.record(
        accessLogRequest(req, 0),
        client.socket,
        performance.now(),
        null,
        503,
        0,
        -1,
        elbErrorBytes(503),
      );
      if (!keep) client.closeWhenIdle();
      return null;
    }
    const head = upstreamRequestHead(
      req,
      client.socket.remoteAddress ?? "",
      this.#portText,
      this.#proto,
      this.#defaultHost,
    );
    this.#inFlight++;
    const ex = new Exchange(this, client, req, target, head, sticky, closeAfter);
    ex.start();
    return ex.done ? null : ex;
  }

  /** Answers a request the node will not pass on, and ends the connection. */
  #refuse(client: ClientConnection, status: 400 | 405): null {
    this.metrics.elb4xx++;
    client.socket.end(elbResponse(status, false));
    client.closeWhenIdle();
    return null;
  }

  close(graceMs: number): Promise<void> {
    if (this.#closed !== null) {
      // Already draining: a shorter grace (shutdown during a removal's drain) cuts sooner.
      const timer = setTimeout(() => this.#cutAll(), graceMs);
      timer.unref();
      void this.#closed.finally(() => clearTimeout(timer));
      return this.#closed;
    }
    this.#draining = true;
    const wasBound = this.#bound;
    this.#bound = false;
    for (const c of this.#clients) c.closeWhenIdle();
    this.#closed = (
      wasBound ? drainServer(this.#server, graceMs, () => this.#cutAll()) : Promise.resolve()
    ).then(() => {
      this.#releaseTable(this.#table);
      this.#table = { targets: [], balancer: this.#balancer<RouteTarget>([]) };
    });
    return this.#closed;
  }

  #cutAll(): void {
    for (const c of this.#clients) c.socket.destroy();
    for (const s of this.#sockets) s.destroy();
  }

  #releaseTable(table: RoutingTable): void {
    for (const t of table.targets) if (t.pool !== null) this.#pools.release(t.pool);
  }
}
