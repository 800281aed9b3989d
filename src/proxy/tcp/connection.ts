/**
 * One client connection of a TCP/SSL listener: the back-end connection (retried once on another
 * back end when it fails before it is established), the Proxy Protocol header, the SSL back end's
 * handshake and BackendServerAuthentication, the pipes both ways with half-close passed through,
 * and the access-log line written when the client side closes.
 */

import { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { AccessLog } from "../access-log.js";
import { type BackendAuth, connectBackendTls } from "../backend-auth.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import { proxyProtocolHeader } from "../proxy-protocol.js";
import type { RouteTarget } from "../target.js";

/** What a connection needs from its listener. */
export interface ConnectionHost {
  readonly port: number;
  /** Latency of a TCP/SSL listener is, as in CloudWatch, the time to connect to the back end. */
  readonly metrics: LoadBalancerMetrics;
  readonly backendTls: boolean;
  readonly idleTimeoutMs: number;
  /** An InService back end other than `exclude`, or undefined when there is none. */
  pick(exclude: RouteTarget | null): RouteTarget | undefined;
  /** A back-end connection failed before it was established (BackendConnectionErrors). */
  connectionError(): void;
  track(s: Socket): void;
  forget(s: Socket): void;
}

/** The back-end policies in force when the connection was accepted. */
export interface BackendPolicies {
  readonly proxyProtocol: boolean;
  readonly auth: BackendAuth | null;
}

/** The upstream socket of one attempt; `conn` is cleared once the attempt is abandoned. */
class UpstreamSocket extends Socket {
  conn: TcpConnection | null = null;
}

/** What the access log needs of the client side, taken at accept (a closed socket forgets it). */
interface ClientFacts {
  readonly address: string;
  readonly port: number;
  readonly ssl: { readonly cipher: string; readonly protocol: string } | null;
}

export class TcpConnection {
  readonly client: Socket;
  readonly #host: ConnectionHost;
  readonly #policies: BackendPolicies;
  readonly #log: AccessLog | null;
  readonly #facts: ClientFacts | null;
  readonly #startedAt: number;
  #upstream: UpstreamSocket | null = null;
  /** What the client is piped to: the upstream socket, or the TLS socket over it. */
  #backend: Socket | null = null;
  #target: RouteTarget | null = null;
  #retried = false;
  #established = false;
  #logged = false;
  #connectStart = 0;
  #backendMs = -1;
  #requestAt = -1;
  #backendFirstAt = -1;
  #responseMs = -1;
  #received = 0;
  #sent = 0;

  constructor(client: Socket, host: ConnectionHost, policies: BackendPolicies, log: AccessLog | null) {
    this.client = client;
    this.#host = host;
    this.#policies = policies;
    this.#log = log;
    this.#startedAt = performance.now();
    this.#facts = log === null ? null : clientFacts(client);
    client.on("error", onClientError);
    client.on("close", this.#clientClosed.bind(this));
    client.setTimeout(host.idleTimeoutMs, onIdle);
    host.track(client);
  }

  start(): void {
    this.#connect(null);
  }

  #connect(exclude: RouteTarget | null): void {
    const target = this.#host.pick(exclude);
    if (target === undefined) {
      this.client.destroy();
      return;
    }
    const up = new UpstreamSocket({ allowHalfOpen: true });
    up.conn = this;
    this.#upstream = up;
    this.#target = target;
    this.#host.track(up);
    up.on("connect", onUpstreamConnect);
    up.on("error", onUpstreamError);
    up.on("close", onUpstreamClose);
    up.setTimeout(this.#host.idleTimeoutMs, onIdle);
    this.#connectStart = performance.now();
    up.connect(target.port, target.host);
  }

  /** @internal The TCP connection to the back end is up. */
  upstreamConnected(up: UpstreamSocket): void {
    if (this.client.destroyed) {
      this.#abandon(up);
      return;
    }
    // Proxy Protocol comes first on the wire, before the TLS handshake of an SSL back end.
    if (this.#policies.proxyProtocol) {
      const c = this.client;
      up.write(proxyProtocolHeader(c.remoteAddress, c.remotePort, c.localAddress, this.#host.port));
    }
    if (!this.#host.backendTls) {
      this.#establish(up);
      return;
    }
    connectBackendTls({ socket: up }, this.#policies.auth, (err, secure) => {
      if (err === null) this.#establish(secure);
      else this.upstreamFailed(up);
    });
  }

  /** @internal The attempt on `up` failed before it was established: count it, retry once. */
  upstreamFailed(up: UpstreamSocket): void {
    if (up !== this.#upstream || this.#established) return;
    this.#abandon(up);
    this.#host.connectionError();
    if (this.#target !== null) this.#target.health.stats.connectionErrors++;
    if (this.client.destroyed) return;
    if (this.#retried) {
      this.client.destroy();
      return;
    }
    this.#retried = true;
    this.#connect(this.#target);
  }

  /** @internal An established back end failed (reset): the client is cut too. */
  backendFailed(): void {
    this.client.destroy();
  }

  /** @internal An established back end closed: data it ended cleanly was already passed on. */
  backendClosed(): void {
    if (!this.client.writableEnded) this.client.destroy();
  }

  /** @internal */ upstreamClosed(up: UpstreamSocket): void {
    this.#host.forget(up);
    if (this.#established) this.backendClosed();
    else this.upstreamFailed(up);
  }

  #abandon(up: UpstreamSocket): void {
    up.conn = null;
    if (this.#upstream === up) this.#upstream = null;
    this.#host.forget(up);
    up.destroy();
  }

  #establish(backend: Socket): void {
    const client = this.client;
    this.#established = true;
    this.#backend = backend;
    this.#backendMs = performance.now() - this.#connectStart;
    this.#host.metrics.observeLatency(this.#backendMs);
    this.#target?.health.stats.connected(this.#backendMs);
    if (backend !== this.#upstream) {
      backend.on("error", this.backendFailed.bind(this));
      backend.on("close", this.backendClosed.bind(this));
    }
    if (this.#log !== null) {
      client.on("data", this.#fromClient.bind(this));
      backend.on("data", this.#fromBackend.bind(this));
    }
    // pipe() ends the destination when the source ends: half-close in each direction.
    client.pipe(backend);
    backend.pipe(client);
    if (this.#log !== null) backend.once("data", this.#passedToClient.bind(this));
    client.resume();
  }

  #fromClient(chunk: Buffer): void {
    if (this.#requestAt < 0) this.#requestAt = performance.now();
    this.#received += chunk.length;
  }

  #fromBackend(chunk: Buffer): void {
    if (this.#backendFirstAt < 0) this.#backendFirstAt = performance.now();
    this.#sent += chunk.length;
  }

  /** After pipe() has handed the back end's first chunk to the client. */
  #passedToClient(): void {
    this.#responseMs = performance.now() - this.#backendFirstAt;
  }

  #clientClosed(): void {
    this.#host.forget(this.client);
    this.#backend?.destroy();
    if (this.#upstream !== null) this.#abandon(this.#upstream);
    this.#record();
  }

  #record(): void {
    const log = this.#log;
    const facts = this.#facts;
    if (log === null || facts === null || this.#logged) return;
    this.#logged = true;
    const target = this.#established ? this.#target : null;
    log.recordConnection({
      startedAt: this.#startedAt,
      clientAddress: facts.address,
      clientPort: facts.port,
      backend: target === null ? null : { host: target.host, port: target.port },
      requestMs: this.#requestAt < 0 ? -1 : this.#requestAt - this.#startedAt,
      backendMs: this.#backendMs,
      responseMs: this.#responseMs,
      receivedBytes: this.#received,
      sentBytes: this.#sent,
      ssl: facts.ssl,
    });
  }
}

function clientFacts(client: Socket): ClientFacts {
  const tls = (client as Partial<TLSSocket>).encrypted === true ? (client as TLSSocket) : null;
  return {
    address: client.remoteAddress ?? "-",
    port: client.remotePort ?? 0,
    ssl: tls === null ? null : { cipher: tls.getCipher()?.name ?? "-", protocol: tls.getProtocol() ?? "-" },
  };
}

function onUpstreamConnect(this: UpstreamSocket): void {
  if (this.conn === null) this.destroy();
  else this.conn.upstreamConnected(this);
}

function onUpstreamError(this: UpstreamSocket): void {
  // Before it is established this is a failed attempt; after, the back end was reset.
  const conn = this.conn;
  if (conn === null) return;
  conn.upstreamFailed(this);
  if (this.conn !== null) conn.backendFailed();
}

function onUpstreamClose(this: UpstreamSocket): void {
  this.conn?.upstreamClosed(this);
}

function onClientError(this: Socket): void {
  this.destroy();
}

function onIdle(this: Socket): void {
  this.destroy();
}
