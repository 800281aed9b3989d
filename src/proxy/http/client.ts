/**
 * One client connection of an HTTP/HTTPS listener: parses request heads from the socket's
 * bytes, runs one exchange at a time (pipelined requests wait in the buffer), and turns into a
 * byte tunnel after a 101. Bad heads get the load balancer's 400/405/414/431; a head not
 * finished within the idle timeout gets 408.
 */
import type { Socket } from "node:net";
import { isParseError, type ParsedRequest, parseRequestHead } from "../http1/request.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import { type ElbStatus, elbResponse } from "./elb-errors.js";
import type { Exchange } from "./exchange.js";
import type { ClientSide } from "./exchange-ports.js";
import { ResponseWriter } from "./response-writer.js";

/** What a client connection needs from its listener. */
export interface ClientHost {
  readonly metrics: LoadBalancerMetrics;
  readonly idleTimeoutMs: number;
  /** Starts the exchange for a parsed request; null when the listener answered it itself. */
  startExchange(client: ClientConnection, req: ParsedRequest): Exchange | null;
  connectionClosed(client: ClientConnection): void;
}

/** The longest request head accepted (431 beyond it). */
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_TARGET_BYTES = 8 * 1024;
const LIMITS = { maxHeadBytes: MAX_HEAD_BYTES, maxTargetBytes: MAX_TARGET_BYTES };
/**
 * A connection accepted just before its listener began to drain has sent no byte yet, but its
 * client has every reason to send a request on it: that one request is answered (then the
 * connection closes) if it arrives within this long.
 */
const FRESH_CONNECTION_GRACE_MS = 2000;
/** Pipelined bytes buffered behind a running exchange before the client is paused. */
const MAX_PIPELINED = 64 * 1024;

export class ClientConnection implements ClientSide {
  readonly socket: Socket;
  readonly writer: ResponseWriter;
  readonly #host: ClientHost;
  #buf: Buffer | null = null;
  #exchange: Exchange | null = null;
  #tunnel: Socket | null = null;
  /** No further request is read: the connection ends once the current exchange has. */
  #closing = false;
  /** The client half-closed: requests already received are answered, then the connection ends. */
  #peerEnded = false;
  /** `performance.now()` when the head being received began; 0 when none is. */
  #headStart = 0;
  #processing = false;
  /**
   * Storage a partial head grows in. Dropped as soon as the head is parsed: the bytes after it
   * (a body) may still be referenced by queued writes, so it is never written into again.
   */
  #growing: Buffer | null = null;
  #pausedPipeline = false;
  #timeoutMs: number;
  /** A byte has arrived from the client. */
  #spoken = false;

  constructor(socket: Socket, host: ClientHost) {
    this.socket = socket;
    this.writer = new ResponseWriter(socket);
    this.#host = host;
    socket.setNoDelay(true);
    this.#timeoutMs = host.idleTimeoutMs;
    socket.setTimeout(this.#timeoutMs);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("drain", () => {
      if (this.#tunnel !== null) this.#tunnel.resume();
      else this.#exchange?.clientDrained();
    });
    socket.on("timeout", () => this.#onTimeout());
    socket.on("end", () => this.#onEnd());
    socket.on("error", () => {
      // 'close' follows.
    });
    socket.on("close", () => {
      this.#closing = true;
      this.#tunnel?.destroy();
      this.#exchange?.clientGone();
      this.#exchange = null;
      host.connectionClosed(this);
    });
  }

  /** Whether an exchange is running (a drain closes idle connections at once, busy ones after). */
  get busy(): boolean {
    return this.#exchange !== null || this.#tunnel !== null;
  }

  /** Stop reading requests: end now if idle, else after the running exchange. */
  closeWhenIdle(): void {
    if (!this.#spoken && !this.busy && !this.#closing) {
      // Its first request is answered with Connection: close (the listener is draining).
      setTimeout(closeIfSilent, FRESH_CONNECTION_GRACE_MS, this).unref();
      return;
    }
    this.#closing = true;
    if (!this.busy) this.socket.end();
  }

  /** @internal The grace of a connection accepted while draining is over. */
  closeIfSilent(): void {
    if (this.#spoken || this.socket.destroyed) return;
    this.#closing = true;
    this.socket.end();
  }

  // ---- ClientSide ----

  exchangeFinished(close: boolean): void {
    this.#exchange = null;
    if (close || this.#closing) {
      this.#closing = true;
      if (!this.socket.destroyed) this.socket.end();
      return;
    }
    if (this.#host.idleTimeoutMs !== this.#timeoutMs) {
      this.#timeoutMs = this.#host.idleTimeoutMs;
      this.socket.setTimeout(this.#timeoutMs);
    }
    if (this.#pausedPipeline) {
      this.#pausedPipeline = false;
      this.socket.resume();
    }
    if (!this.#processing && this.#buf !== null) {
      const buf = this.#buf;
      this.#buf = null;
      this.#process(buf);
    }
    if (this.#peerEnded && this.#exchange === null && !this.#processing) this.#endAfterPeer();
  }

  startTunnel(backend: Socket): void {
    this.#tunnel = backend;
    backend.on("drain", () => this.socket.resume());
    const rest = this.#buf;
    this.#buf = null;
    if (rest !== null && rest.length > 0) backend.write(rest);
    if (this.#pausedPipeline) {
      this.#pausedPipeline = false;
      this.socket.resume();
    }
  }

  // ---- internals ----

  #onData(chunk: Buffer): void {
    this.#spoken = true;
    const tunnel = this.#tunnel;
    if (tunnel !== null) {
      if (!tunnel.write(chunk)) this.socket.pause();
      return;
    }
    const kept = this.#buf;
    if (kept === null) {
      this.#process(chunk);
      return;
    }
    this.#buf = null;
    if (this.#exchange !== null || this.#closing) {
      this.#process(Buffer.concat([kept, chunk]));
      return;
    }
    // A head arriving in pieces: appended in place (the buffer grows by doubling) and parsed
    // again only once an empty line has arrived, so a head dribbled in tiny packets costs
    // linear time, not quadratic.
    const buf = this.#append(kept, chunk);
    const from = Math.max(0, kept.length - 3);
    if (buf.indexOf("\n\r\n", from, "latin1") === -1 && buf.indexOf("\n\n", from, "latin1") === -1) {
      this.#buf = buf;
      if (buf.length > MAX_HEAD_BYTES) this.#reject(431);
      else if (this.#headStart !== 0 && performance.now() - this.#headStart > this.#host.idleTimeoutMs)
        this.#reject(408);
      return;
    }
    this.#growing = null;
    this.#process(buf);
  }

  /** `kept` + `chunk`, in `#growing` when `kept` is its start (else in a new one twice the size). */
  #append(kept: Buffer, chunk: Buffer): Buffer {
    const need = kept.length + chunk.length;
    let store = this.#growing;
    if (
      store === null ||
      store.length < need ||
      store.buffer !== kept.buffer ||
      store.byteOffset !== kept.byteOffset
    ) {
      store = Buffer.allocUnsafe(Math.max(need * 2, 1024));
      kept.copy(store, 0);
      this.#growing = store;
    }
    chunk.copy(store, kept.length);
    return store.subarray(0, need);
  }

  #process(buf: Buffer): void {
    this.#processing = true;
    let off = 0;
    try {
      while (off < buf.length) {
        const ex = this.#exchange;
        if (ex !== null) {
          if (!ex.bodyDone) {
            off = ex.feedBody(buf, off);
            continue;
          }
          this.#keep(buf, off);
          if (this.#tunnel === null && buf.length - off > MAX_PIPELINED && !this.#pausedPipeline) {
            this.#pausedPipeline = true;
            this.socket.pause();
          }
          return;
        }
        if (this.#closing || this.#tunnel !== null) {
          if (this.#tunnel !== null) this.#tunnel.write(buf.subarray(off));
          return;
        }
        const r = parseRequestHead(buf, off, LIMITS);
        if (r === null) {
          this.#keep(buf, off);
          const now = performance.now();
          if (this.#headStart === 0) this.#headStart = now;
          else if (now - this.#headStart > this.#host.idleTimeoutMs) this.#reject(408);
          return;
        }
        this.#headStart = 0;
        if (isParseError(r)) {
          this.#reject(r.error);
          return;
        }
        off += r.headLength;
        this.#exchange = this.#host.startExchange(this, r);
        if (this.#exchange === null && !this.#closing && (r.contentLength > 0 || r.chunked)) {
          // Answered by the listener with the body still unread: the connection cannot go on.
          this.#closing = true;
        }
      }
    } finally {
      this.#processing = false;
      if (this.#peerEnded && this.#exchange === null) this.#endAfterPeer();
    }
  }

  #keep(buf: Buffer, off: number): void {
    if (off >= buf.length) return;
    this.#buf = off === 0 ? buf : buf.subarray(off);
  }

  /** Answers a request the load balancer could not accept, and closes. */
  #reject(status: ElbStatus): void {
    this.#host.metrics.requestCount++;
    this.#host.metrics.elb4xx++;
    this.#closing = true;
    this.#buf = null;
    this.socket.end(elbResponse(status, false));
  }

  #onTimeout(): void {
    if (this.#tunnel !== null) {
      this.#exchange?.clientTimeout();
      this.socket.destroy();
      return;
    }
    const ex = this.#exchange;
    if (ex !== null) {
      // Waiting on the back end: its own idle timer decides (504).
      if (!ex.clientTimeout()) this.socket.setTimeout(this.#timeoutMs);
      return;
    }
    if (this.#buf !== null && this.#buf.length > 0 && !this.#closing) {
      this.#reject(408);
      return;
    }
    this.socket.destroy();
  }

  /** The client finished sending (half-close): answer the requests it sent, then close. */
  #onEnd(): void {
    this.#peerEnded = true;
    if (this.#tunnel !== null) {
      this.#tunnel.end();
      return;
    }
    const ex = this.#exchange;
    if (ex !== null && !ex.bodyDone) {
      // The body can never be completed: the request is abandoned, not answered.
      ex.clientGone();
      this.socket.destroy();
      return;
    }
    if (ex === null) this.#endAfterPeer();
  }

  /** After a half-close, with no exchange running: a partial head left is answered 400. */
  #endAfterPeer(): void {
    this.#closing = true;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (this.#buf !== null && this.#buf.length > 0) this.#reject(400);
    else this.socket.end();
  }
}

function closeIfSilent(client: ClientConnection): void {
  client.closeIfSilent();
}
