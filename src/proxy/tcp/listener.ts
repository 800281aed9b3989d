import { createServer, type Server, Socket } from "node:net";
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
  connect as tlsConnect,
} from "node:tls";
import type { Logger } from "../../util/logger.js";
import type { BalancerFactory } from "../balancer/balancer.js";
import { bindServer, drainServer } from "../bind.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import { DEFAULT_IDLE_TIMEOUT_MS } from "../pools.js";
import { type ProxyListener, type RouteSpec, RouteTarget, type RoutingTable } from "../target.js";

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
}

/** The upstream socket of one proxied connection, knowing its client and listener. */
class UpstreamSocket extends Socket {
  client: Socket | null = null;
  listener: TcpListener | null = null;
  target: RouteTarget | null = null;
  connected = false;
  retried = false;
}

/**
 * A TCP listener of a load-balancer node: each client connection is piped to one InService back
 * end, in both directions, with half-close passed through. The client is paused until the back
 * end accepts, so a failed connect can be retried once on another back end.
 */
export class TcpListener implements ProxyListener {
  readonly port: number;
  /** @internal The back ends speak TLS: each upstream connection is wrapped once connected. */
  readonly backendTls: boolean;
  readonly #address: string;
  readonly #metrics: LoadBalancerMetrics;
  readonly #balancer: BalancerFactory;
  readonly #log: Logger;
  readonly #server: Server;
  /** The same server when this is an SSL listener. */
  readonly #tlsServer: TlsServer | null = null;
  readonly #sockets = new Set<Socket>();
  #table: RoutingTable;
  #bound = false;
  #closed: Promise<void> | null = null;
  #idleTimeoutMs: number;

  constructor(opts: TcpListenerOptions) {
    this.port = opts.port;
    this.#address = opts.address;
    this.#metrics = opts.metrics;
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
      const server = createTlsServer({ ...opts.tls, allowHalfOpen: true }, this.#onConnection.bind(this));
      this.#tlsServer = server;
      this.#server = server;
    }
  }

  get bound(): boolean {
    return this.#bound;
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

  /** @internal */ connectUpstream(client: Socket, exclude: RouteTarget | null, retried: boolean): void {
    const target = this.#table.balancer.pick(exclude ?? undefined);
    if (target === undefined) {
      client.destroy();
      return;
    }
    const up = new UpstreamSocket({ allowHalfOpen: true });
    up.client = client;
    up.listener = this;
    up.target = target;
    up.retried = retried;
    this.#sockets.add(up);
    up.on("connect", onUpstreamConnect);
    up.on("error", onUpstreamError);
    up.on("close", onUpstreamClose);
    up.setTimeout(this.#idleTimeoutMs, onIdle);
    up.connect(target.port, target.host);
  }

  /** @internal */ connectionError(): void {
    this.#metrics.backendConnectionErrors++;
  }

  /** @internal */ forget(s: Socket): void {
    this.#sockets.delete(s);
  }

  #onConnection(client: Socket): void {
    this.#metrics.requestCount++;
    this.#sockets.add(client);
    client.on("error", onClientError);
    client.on("close", onClientClose.bind(this, client));
    client.setTimeout(this.#idleTimeoutMs, onIdle);
    this.connectUpstream(client, null, false);
  }

  #destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }
}

function onUpstreamConnect(this: UpstreamSocket): void {
  const client = this.client;
  if (client === null || client.destroyed) {
    this.destroy();
    return;
  }
  this.connected = true;
  if (this.listener?.backendTls === true) {
    secureUpstream(this, client);
    return;
  }
  // pipe() ends the destination when the source ends: half-close in each direction.
  client.pipe(this);
  this.pipe(client);
  client.on("close", destroyPeer.bind(this));
  client.resume();
}

/** SSL back end: TLS over the connected upstream socket; its certificate is not verified (ELB's default). */
function secureUpstream(up: UpstreamSocket, client: Socket): void {
  const secure = tlsConnect({ socket: up, rejectUnauthorized: false });
  secure.on("secureConnect", () => {
    client.pipe(secure);
    secure.pipe(client);
    client.resume();
  });
  secure.on("error", () => {
    client.destroy();
    up.destroy();
  });
  secure.on("close", () => {
    if (!client.writableEnded) client.destroy();
  });
  client.on("close", () => {
    secure.destroy();
    up.destroy();
  });
}

function onUpstreamError(this: UpstreamSocket): void {
  const client = this.client;
  const listener = this.listener;
  if (!this.connected && client !== null && listener !== null && !client.destroyed) {
    listener.connectionError();
    if (!this.retried) {
      this.client = null;
      listener.connectUpstream(client, this.target, true);
      return;
    }
  }
  client?.destroy();
}

function onUpstreamClose(this: UpstreamSocket): void {
  this.listener?.forget(this);
  // An upstream that closed without error after connecting has already ended the client through
  // pipe(); if it was reset instead, the error handler destroyed the client.
  if (this.connected && this.client !== null && !this.client.writableEnded) this.client.destroy();
}

function onClientError(this: Socket): void {
  this.destroy();
}

function onClientClose(this: TcpListener, client: Socket): void {
  this.forget(client);
}

function destroyPeer(this: UpstreamSocket): void {
  this.destroy();
}

function onIdle(this: Socket): void {
  this.destroy();
}
