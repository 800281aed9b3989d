/**
 * Keep-alive connections to one back-end origin (address, port, TLS), on raw sockets. A
 * connection serves one exchange at a time; released connections wait on an idle stack (the
 * most recently used first, so surplus ones age out). When every allowed connection is busy a
 * request waits in the surge queue, which is bounded per load balancer; past the bound it spills
 * over (503).
 */
import { connect as netConnect, type Socket } from "node:net";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { BackendAuth } from "../backend-auth.js";
import type { LoadBalancerMetrics } from "../metrics.js";

/** What uses a back-end connection: the exchange it is serving. */
export interface BackendUser {
  /** The metrics whose surge queue this user waits in. */
  readonly metrics: LoadBalancerMetrics;
  /**
   * A connection is now this user's (from the idle stack, a new connect, or the surge queue).
   * `backendData` chunks of a plain connection live in a reused buffer: a user that keeps one
   * past the call (a queued write) sets `conn.retained`.
   */
  backendAssigned(conn: BackendConnection): void;
  backendData(chunk: Buffer): void;
  /** The connection closed (or failed to connect, `connected` false). */
  backendClosed(conn: BackendConnection, connected: boolean): void;
  /** The back end was silent for the idle timeout. */
  backendTimeout(): void;
  /** The back-end socket drained its write buffer. */
  backendDrained(): void;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** The read buffer of a plain back-end connection. */
const READ_BUFFER_BYTES = 32 * 1024;

export class BackendConnection {
  readonly socket: Socket;
  readonly pool: OriginPool;
  user: BackendUser | null = null;
  connected = false;
  /** Exchanges this connection finished: a reused connection may have been closed by the back end. */
  served = 0;
  closed = false;
  /**
   * Plain sockets read into one reused buffer (`onread`: no stream machinery per read). The user
   * sets this when it still holds bytes of the last read (a client write left queued): the next
   * read then gets a fresh buffer.
   */
  retained = false;
  #readBuffer: Buffer | null = null;
  #timeoutMs = 0;

  /** `tls`: TLS options (an HTTPS back end); `auth`: the BackendServerAuthentication its certificate must pass. */
  constructor(pool: OriginPool, tls: ConnectionOptions | null, auth: BackendAuth | null) {
    this.pool = pool;
    const socket =
      tls === null
        ? netConnect({
            host: pool.host,
            port: pool.port,
            onread: { buffer: () => this.#nextReadBuffer(), callback: (n, buf) => this.#read(n, buf) },
          })
        : tlsConnect({ ...tls, host: pool.host, port: pool.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    this.#timeoutMs = CONNECT_TIMEOUT_MS;
    socket.once(tls !== null ? "secureConnect" : "connect", () => {
      // A certificate the policy refuses: closed as a failed connect (a back-end connection error).
      if (auth !== null && auth.verify(socket as TLSSocket) !== null) socket.destroy();
      else this.connected = true;
    });
    socket.on("data", (chunk: Buffer) => {
      const user = this.user;
      if (user !== null) user.backendData(chunk);
      else socket.destroy(); // bytes from an idle connection: it cannot be reused
    });
    socket.on("drain", () => this.user?.backendDrained());
    socket.on("timeout", () => {
      const user = this.user;
      if (user === null || !this.connected) socket.destroy();
      else user.backendTimeout();
    });
    socket.on("error", () => {
      // 'close' follows; the user learns of it there.
    });
    socket.on("end", () => {
      if (this.user === null) socket.destroy();
    });
    socket.on("close", () => {
      this.closed = true;
      pool.forget(this);
      const user = this.user;
      this.user = null;
      user?.backendClosed(this, this.connected);
    });
  }

  #nextReadBuffer(): Buffer {
    if (this.#readBuffer === null || this.retained) {
      this.#readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
      this.retained = false;
    }
    return this.#readBuffer;
  }

  /** Always true: pausing is the user's (socket.pause) when a client is slow. */
  #read(n: number, buf: Uint8Array): boolean {
    const user = this.user;
    if (user === null) this.socket.destroy();
    else user.backendData((buf as Buffer).subarray(0, n));
    return true;
  }

  /** Sets the socket's inactivity timeout (only when it changes: re-arming costs). */
  setTimeout(ms: number): void {
    if (ms === this.#timeoutMs) return;
    this.#timeoutMs = ms;
    this.socket.setTimeout(ms);
  }
}

export interface OriginPoolOptions {
  readonly host: string;
  readonly port: number;
  /** HTTPS back end: TLS options (certificate checks per BackendServerAuthentication). */
  readonly tls: ConnectionOptions | null;
  /** HTTPS back end under BackendServerAuthentication: the keys its certificate must carry. */
  readonly auth?: BackendAuth | null;
  /** Connections open at once at most; more requests wait in the surge queue. */
  readonly maxConnections: number;
}

export class OriginPool {
  readonly host: string;
  readonly port: number;
  readonly #tls: ConnectionOptions | null;
  readonly #auth: BackendAuth | null;
  readonly #max: number;
  readonly #idle: BackendConnection[] = [];
  readonly #all = new Set<BackendConnection>();
  /** The surge queue of this origin (FIFO), with each waiter's load balancer's capacity. */
  #waiting: BackendUser[] = [];
  #closed = false;

  constructor(opts: OriginPoolOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.#tls = opts.tls;
    this.#auth = opts.auth ?? null;
    this.#max = opts.maxConnections;
  }

  /**
   * Gives `user` a connection now (returns true and calls `backendAssigned`), queues it
   * (returns true, assigned later), or returns false when its surge queue is full (spillover).
   */
  acquire(user: BackendUser, surgeCapacity: number): boolean {
    const idle = this.#idle;
    while (idle.length > 0) {
      const conn = idle.pop() as BackendConnection;
      if (conn.closed || conn.socket.destroyed) continue;
      conn.user = user;
      user.backendAssigned(conn);
      return true;
    }
    if (this.#all.size < this.#max && !this.#closed) {
      user.backendAssigned(this.#open(user));
      return true;
    }
    const m = user.metrics;
    if (m.surgeQueueLength >= surgeCapacity) return false;
    m.surgeQueueLength++;
    this.#waiting.push(user);
    return true;
  }

  /** A queued user gave up (its client went away). */
  cancel(user: BackendUser): void {
    const i = this.#waiting.indexOf(user);
    if (i === -1) return;
    this.#waiting.splice(i, 1);
    user.metrics.surgeQueueLength--;
  }

  /** The exchange is done and the connection can serve another. */
  release(conn: BackendConnection): void {
    conn.user = null;
    conn.served++;
    if (conn.closed) return;
    const next = this.#waiting.shift();
    if (next !== undefined) {
      next.metrics.surgeQueueLength--;
      conn.user = next;
      next.backendAssigned(conn);
      return;
    }
    if (this.#closed) {
      conn.socket.destroy();
      return;
    }
    // It keeps the idle timeout its last exchange set (the load balancer's, as ELB closes idle
    // back-end connections): no timer is re-armed on the way into the pool and out again.
    this.#idle.push(conn);
  }

  /** @internal The connection closed: drop it, and let a queued request open a new one. */
  forget(conn: BackendConnection): void {
    if (!this.#all.delete(conn)) return;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    const next = this.#waiting.shift();
    if (next === undefined) return;
    next.metrics.surgeQueueLength--;
    if (this.#closed) next.backendClosed(conn, false);
    else next.backendAssigned(this.#open(next));
  }

  get size(): number {
    return this.#all.size;
  }

  /** Released by every table that used it: no new requests come. */
  get closed(): boolean {
    return this.#closed;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Closes idle connections now and the busy ones as their exchanges finish. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle) c.socket.destroy();
    this.#idle.length = 0;
  }

  /** Cuts every connection, busy or not. */
  destroy(): void {
    this.close();
    for (const c of [...this.#all]) c.socket.destroy();
  }

  #open(user: BackendUser): BackendConnection {
    const conn = new BackendConnection(this, this.#tls, this.#auth);
    conn.user = user;
    this.#all.add(conn);
    return conn;
  }
}
