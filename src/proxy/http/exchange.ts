/**
 * One proxied request on raw sockets: the request head (already rewritten) and body go to a
 * back-end connection, the response comes back with its framing tracked so both connections can
 * be reused. Bytes are forwarded as received; only heads are rebuilt. Backpressure pauses the
 * sending socket until the receiving one drains.
 */
import type { Socket } from "node:net";
import type { AccessLog, AccessLogRequest } from "../access-log.js";
import { ChunkedScanner } from "../http1/chunked.js";
import type { ParsedRequest } from "../http1/request.js";
import { type ParsedResponse, parseResponseHead, responseBodyKind } from "../http1/response.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { RouteTarget } from "../target.js";
import { type ElbStatus, elbErrorBytes, elbResponse } from "./elb-errors.js";
import { downstreamResponseHead } from "./headers.js";
import type { BackendConnection, BackendUser } from "./origin-pool.js";
import { responseSetsCookie, type Stickiness, stickyCookieLine } from "./stickiness.js";

/** What an exchange needs from its listener. */
export interface ExchangeHost {
  readonly metrics: LoadBalancerMetrics;
  readonly accessLog: AccessLog | null;
  readonly draining: boolean;
  readonly idleTimeoutMs: number;
  readonly surgeCapacity: number;
  /** Another InService target than `exclude`, for the one retry. */
  pick(exclude?: RouteTarget): RouteTarget | undefined;
  exchangeDone(): void;
}

/** What an exchange needs from the client connection. */
export interface ClientSide {
  readonly socket: Socket;
  /** The response is complete; `close`: end the client connection after it. */
  exchangeFinished(close: boolean): void;
  /** A 101 was forwarded: from now on client bytes go to `backend` as they come. */
  startTunnel(backend: Socket): void;
}

/** Stickiness of the request: the policy and the `AWSELB` value the client sent. */
export interface StickyRequest {
  readonly policy: Stickiness;
  readonly token: string | undefined;
}

const AWAIT_HEAD = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;
const TUNNEL = 4;
const DONE = 5;

/** Request bodies up to this size are kept until the response starts, so a failed connect can retry. */
const REPLAY_LIMIT = 64 * 1024;
/** A queued request's body is buffered up to this much before the client is paused. */
const QUEUED_BODY_LIMIT = 256 * 1024;
const MAX_RESPONSE_HEAD = 64 * 1024;
/** Response bodies up to this size leave in the same buffer as their head. */
const COALESCE_LIMIT = 16 * 1024;
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export class Exchange implements BackendUser {
  readonly metrics: LoadBalancerMetrics;
  readonly #host: ExchangeHost;
  readonly #client: ClientSide;
  readonly #req: ParsedRequest;
  readonly #head: string;
  readonly #sticky: StickyRequest | null;
  /** `performance.now()` at arrival. */
  readonly #start = performance.now();
  #target: RouteTarget;
  #held = false;
  #conn: BackendConnection | null = null;
  #queued = false;
  #retried = false;
  #closeAfter: boolean;
  /** Request body: bytes of Content-Length left, or -1 while a chunked body runs. */
  #bodyLeft: number;
  #reqScanner: ChunkedScanner | null = null;
  bodyDone: boolean;
  #bodyBytes = 0;
  #queuedBody: Buffer[] = [];
  #queuedBytes = 0;
  #replay: Buffer[] | null = [];
  #replayBytes = 0;
  #pausedClient = false;
  #pausedBackend = false;
  #resp = AWAIT_HEAD;
  /** The response head, not yet written (see #toClient). */
  #pendingHead: string | null = null;
  #respBuf: Buffer | null = null;
  #respLeft = 0;
  #respScanner: ChunkedScanner | null = null;
  #backendReusable = false;
  #closeClient = false;
  #backendStatus = 0;
  #backendMs = -1;
  #elbStatus = 0;
  #sent = 0;
  #done = false;

  constructor(
    host: ExchangeHost,
    client: ClientSide,
    req: ParsedRequest,
    target: RouteTarget,
    head: string,
    sticky: StickyRequest | null,
    closeAfter: boolean,
  ) {
    this.#host = host;
    this.metrics = host.metrics;
    this.#client = client;
    this.#req = req;
    this.#target = target;
    this.#head = head;
    this.#sticky = sticky;
    this.#closeAfter = closeAfter;
    if (req.chunked) {
      this.#bodyLeft = -1;
      this.#reqScanner = new ChunkedScanner();
      this.bodyDone = false;
    } else {
      this.#bodyLeft = Math.max(req.contentLength, 0);
      this.bodyDone = this.#bodyLeft === 0;
    }
  }

  /** Answered and finished (it may finish inside `start`, e.g. a spillover 503). */
  get done(): boolean {
    return this.#done;
  }

  /** Sends the request to the target's pool (now, or when the surge queue reaches it). */
  start(): void {
    const target = this.#target;
    const pool = target.pool;
    target.acquire();
    this.#held = true;
    if (pool === null) {
      this.#fail(503);
      return;
    }
    this.#queued = true;
    if (!pool.acquire(this, this.#host.surgeCapacity)) {
      this.#queued = false;
      this.metrics.spilloverCount++;
      this.#fail(503);
    }
  }

  /** Client bytes of the request body from `off`; returns the offset just past this request's body. */
  feedBody(buf: Buffer, off: number): number {
    let end: number;
    if (this.#bodyLeft >= 0) {
      end = Math.min(buf.length, off + this.#bodyLeft);
      this.#bodyLeft -= end - off;
      if (this.#bodyLeft === 0) this.bodyDone = true;
    } else {
      const r = (this.#reqScanner as ChunkedScanner).scan(buf, off, buf.length);
      if (r === -2) {
        this.#clientProtocolError();
        return buf.length;
      }
      end = r === -1 ? buf.length : r;
      if (r >= 0) this.bodyDone = true;
    }
    if (end > off && !this.#done)
      this.#sendBody(off === 0 && end === buf.length ? buf : buf.subarray(off, end));
    return end;
  }

  // ---- BackendUser ----

  backendAssigned(conn: BackendConnection): void {
    this.#queued = false;
    if (this.#done) {
      conn.pool.release(conn);
      return;
    }
    this.#conn = conn;
    conn.setTimeout(this.#host.idleTimeoutMs);
    const s = conn.socket;
    s.cork();
    s.write(this.#head, "latin1");
    if (this.#retried && this.#replay !== null) for (const b of this.#replay) s.write(b);
    if (this.#queuedBytes > 0) {
      for (const b of this.#queuedBody) {
        s.write(b);
        this.#keepForReplay(b);
      }
      this.#queuedBody = [];
      this.#queuedBytes = 0;
    }
    s.uncork();
    if (this.#pausedClient) {
      this.#pausedClient = false;
      this.#client.socket.resume();
    }
  }

  backendData(chunk: Buffer): void {
    switch (this.#resp) {
      case AWAIT_HEAD:
        this.#headBytes(chunk);
        return;
      case LENGTH: {
        const n = Math.min(chunk.length, this.#respLeft);
        this.#respLeft -= n;
        this.#toClient(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (this.#respLeft === 0) this.#responseDone(chunk.length - n);
        return;
      }
      case CHUNKED: {
        const r = (this.#respScanner as ChunkedScanner).scan(chunk, 0, chunk.length);
        if (r === -2) {
          this.#cutBoth();
          return;
        }
        const end = r === -1 ? chunk.length : r;
        this.#toClient(end === chunk.length ? chunk : chunk.subarray(0, end));
        if (r >= 0) this.#responseDone(chunk.length - end);
        return;
      }
      case UNTIL_CLOSE:
      case TUNNEL:
        this.#toClient(chunk);
        return;
      default:
        // Bytes after a complete response: the connection cannot be trusted for another.
        this.#backendReusable = false;
    }
  }

  backendClosed(conn: BackendConnection, connected: boolean): void {
    this.#conn = null;
    if (this.#done) return;
    const resp = this.#resp;
    if (resp === UNTIL_CLOSE) {
      this.#finish(true);
      return;
    }
    if (resp === TUNNEL) {
      this.#client.socket.end();
      this.#finish(true);
      return;
    }
    if (resp !== AWAIT_HEAD || this.#respBuf !== null) {
      this.#cutClient();
      return;
    }
    if (!connected) {
      this.metrics.backendConnectionErrors++;
      if (this.#retry(true)) return;
      this.#fail(503);
      return;
    }
    // A kept-alive connection the back end closed as it was reused: safe to resend if idempotent.
    if (conn.served > 0 && IDEMPOTENT.has(this.#req.method) && this.#retry(false)) return;
    this.#fail(504);
  }

  backendTimeout(): void {
    if (this.#done) return;
    if (this.#resp === AWAIT_HEAD && this.#respBuf === null) {
      this.#dropBackend();
      this.#fail(504);
      return;
    }
    this.#cutBoth();
  }

  backendDrained(): void {
    if (this.#pausedClient && this.#queuedBytes === 0) {
      this.#pausedClient = false;
      this.#client.socket.resume();
    }
  }

  // ---- from the client connection ----

  /** The client socket drained: resume the back end. */
  clientDrained(): void {
    if (!this.#pausedBackend) return;
    this.#pausedBackend = false;
    this.#conn?.socket.resume();
  }

  /** The client connection closed before the exchange finished. */
  clientGone(): void {
    if (this.#done) return;
    this.#dropBackend();
    this.#finish(true);
  }

  /** The client was silent for the idle timeout. Returns false when the exchange waits on the back end instead. */
  clientTimeout(): boolean {
    if (this.#done) return true;
    if (this.#resp === TUNNEL) {
      this.#cutBoth();
      return true;
    }
    if (this.bodyDone) return false;
    this.#dropBackend();
    this.#reply(408, false);
    return true;
  }

  // ---- internals ----

  #sendBody(b: Buffer): void {
    this.#bodyBytes += b.length;
    const conn = this.#conn;
    if (conn === null) {
      this.#queuedBody.push(b);
      this.#queuedBytes += b.length;
      if (this.#queuedBytes > QUEUED_BODY_LIMIT && !this.#pausedClient) {
        this.#pausedClient = true;
        this.#client.socket.pause();
      }
      return;
    }
    this.#keepForReplay(b);
    if (!conn.socket.write(b) && !this.#pausedClient) {
      this.#pausedClient = true;
      this.#client.socket.pause();
    }
  }

  #keepForReplay(b: Buffer): void {
    if (this.#replay === null) return;
    this.#replayBytes += b.length;
    if (this.#replayBytes > REPLAY_LIMIT) this.#replay = null;
    else this.#replay.push(b);
  }

  #headBytes(chunk: Buffer): void {
    let buf = chunk;
    if (this.#respBuf !== null) {
      buf = Buffer.concat([this.#respBuf, chunk]);
      this.#respBuf = null;
    }
    let off = 0;
    for (;;) {
      const r = parseResponseHead(buf, off, MAX_RESPONSE_HEAD);
      if (r === null) {
        // A copy: a plain connection's read buffer is reused.
        this.#respBuf = Buffer.from(buf.subarray(off));
        return;
      }
      if ("error" in r) {
        this.#dropBackend();
        this.#fail(502);
        return;
      }
      off += r.headLength;
      if (r.status >= 200 || r.status === 101) {
        this.#responseStarts(r, buf, off);
        return;
      }
      // An interim response (100 Continue, 103): passed on to HTTP/1.1 clients.
      if (this.#req.minor >= 1) this.#toClientHead(downstreamResponseHead(r, "", ""));
      if (off >= buf.length) return;
    }
  }

  #responseStarts(r: ParsedResponse, buf: Buffer, off: number): void {
    const ms = performance.now() - this.#start;
    this.#backendMs = ms;
    this.#backendStatus = r.status;
    this.metrics.backendStatus(r.status);
    this.metrics.observeLatency(ms);
    this.#replay = null;
    if (r.status === 101) {
      if (!this.#req.upgrade) {
        this.#dropBackend();
        this.#fail(502);
        return;
      }
      this.#resp = TUNNEL;
      this.#toClientHead(downstreamResponseHead(r, "upgrade", ""));
      if (off < buf.length) this.#toClient(buf.subarray(off));
      const conn = this.#conn as BackendConnection;
      conn.setTimeout(this.#host.idleTimeoutMs);
      this.#client.startTunnel(conn.socket);
      return;
    }
    const kind = responseBodyKind(this.#req.method, r);
    this.#backendReusable = r.keepAlive && kind !== "close";
    this.#closeClient =
      this.#closeAfter || !this.#req.keepAlive || this.#host.draining || kind === "close" || !this.bodyDone;
    const connection = this.#closeClient ? "close" : this.#req.minor === 0 ? "keep-alive" : "";
    // Held until the first body bytes, so head and body usually leave in one write.
    this.#pendingHead = downstreamResponseHead(r, connection, this.#stickyLine(r));
    const rest = buf.length - off;
    if (kind === "none" || (kind === "length" && r.contentLength === 0)) {
      this.#flushHead();
      this.#responseDone(rest);
      return;
    }
    if (kind === "length") {
      this.#resp = LENGTH;
      this.#respLeft = r.contentLength;
    } else if (kind === "chunked") {
      this.#resp = CHUNKED;
      this.#respScanner = new ChunkedScanner();
    } else {
      this.#resp = UNTIL_CLOSE;
    }
    if (rest > 0) this.backendData(off === 0 ? buf : buf.subarray(off));
    this.#flushHead();
  }

  #flushHead(): void {
    const head = this.#pendingHead;
    if (head === null) return;
    this.#pendingHead = null;
    const s = this.#client.socket;
    if (!s.destroyed) s.write(head, "latin1");
  }

  #stickyLine(r: ParsedResponse): string {
    const sticky = this.#sticky;
    if (sticky === null) return "";
    const token = this.#target.stickyToken;
    if (sticky.policy.kind === "lb") {
      return sticky.token === token ? "" : stickyCookieLine(token, sticky.policy.maxAge);
    }
    return responseSetsCookie(r.headers, sticky.policy.cookieName) ? stickyCookieLine(token, null) : "";
  }

  #toClientHead(head: string): void {
    const s = this.#client.socket;
    if (!s.destroyed) s.write(head, "latin1");
  }

  #toClient(b: Buffer): void {
    this.#sent += b.length;
    const s = this.#client.socket;
    if (s.destroyed) return;
    let out = b;
    const head = this.#pendingHead;
    if (head !== null) {
      this.#pendingHead = null;
      if (b.length > COALESCE_LIMIT) {
        s.write(head, "latin1");
      } else {
        // Heads are latin1 strings (one byte per character): one buffer, one write, one syscall.
        out = Buffer.allocUnsafe(head.length + b.length);
        out.write(head, 0, "latin1");
        b.copy(out, head.length);
      }
    }
    const flushed = s.write(out);
    // Left queued: the read buffer it may point into must not be reused.
    if (s.writableLength > 0 && this.#conn !== null) this.#conn.retained = true;
    if (!flushed && !this.#pausedBackend && this.#conn !== null) {
      this.#pausedBackend = true;
      this.#conn.socket.pause();
    }
  }

  /** The response is complete; `extra` bytes followed it in the last chunk. */
  #responseDone(extra: number): void {
    this.#resp = DONE;
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) {
      if (this.#pausedBackend) {
        this.#pausedBackend = false;
        conn.socket.resume();
      }
      if (this.#backendReusable && extra === 0 && this.bodyDone && !this.#closeAfter) {
        conn.pool.release(conn);
      } else {
        conn.user = null;
        conn.socket.destroy();
      }
    }
    this.#finish(this.#closeClient);
  }

  #retry(connectFailed: boolean): boolean {
    if (this.#retried || this.#replay === null || (!this.bodyDone && this.#bodyBytes > 0)) return false;
    const next = this.#host.pick(connectFailed ? this.#target : undefined);
    if (next === undefined || next.pool === null) return false;
    this.#retried = true;
    this.#releaseTarget();
    this.#target = next;
    next.acquire();
    this.#held = true;
    this.#queued = true;
    if (!next.pool.acquire(this, this.#host.surgeCapacity)) {
      this.#queued = false;
      this.metrics.spilloverCount++;
      this.#fail(503);
    }
    return true;
  }

  #clientProtocolError(): void {
    if (this.#done) return;
    this.#dropBackend();
    if (this.#resp === AWAIT_HEAD) this.#reply(400, false);
    else this.#cutClient();
  }

  /** Answers with the load balancer's own error (when no response has started) and finishes. */
  #fail(status: ElbStatus): void {
    const keep = !this.#closeAfter && this.#req.keepAlive && this.bodyDone && !this.#host.draining;
    this.#reply(status, keep);
  }

  #reply(status: ElbStatus, keepAlive: boolean): void {
    if (this.#done) return;
    if (status >= 500) this.metrics.elb5xx++;
    else this.metrics.elb4xx++;
    if (this.#resp !== AWAIT_HEAD) {
      this.#cutClient();
      return;
    }
    this.#elbStatus = status;
    this.#resp = DONE;
    const s = this.#client.socket;
    if (!s.destroyed) s.write(elbResponse(status, keepAlive));
    this.#sent += elbErrorBytes(status);
    this.#finish(!keepAlive);
  }

  /** Detaches from the back-end connection and closes it (it is mid-exchange, so not reusable). */
  #dropBackend(): void {
    const conn = this.#conn;
    this.#conn = null;
    if (conn !== null) {
      conn.user = null;
      conn.socket.destroy();
    } else if (this.#queued) {
      this.#queued = false;
      this.#target.pool?.cancel(this);
    }
  }

  #cutClient(): void {
    this.#client.socket.destroy();
    this.#finish(true);
  }

  #cutBoth(): void {
    this.#dropBackend();
    this.#cutClient();
  }

  #releaseTarget(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#target.release();
  }

  #finish(closeClient: boolean): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#queued) {
      this.#queued = false;
      this.#target.pool?.cancel(this);
    }
    this.#releaseTarget();
    const log = this.#host.accessLog;
    if (log !== null) this.#log(log);
    this.#host.exchangeDone();
    this.#client.exchangeFinished(closeClient);
  }

  #log(log: AccessLog): void {
    const req = this.#req;
    const headers: AccessLogRequest["headers"] = { "content-length": String(this.#bodyBytes) };
    for (let i = 0; i + 1 < req.headers.length; i += 2) {
      const n = (req.headers[i] as string).toLowerCase();
      if (n === "host" && headers.host === undefined) headers.host = req.headers[i + 1] as string;
      else if (n === "user-agent" && headers["user-agent"] === undefined)
        headers["user-agent"] = req.headers[i + 1] as string;
    }
    const view: AccessLogRequest = {
      method: req.method,
      url: req.target,
      httpVersion: `1.${req.minor}`,
      headers,
    };
    const status = this.#elbStatus !== 0 ? this.#elbStatus : this.#backendStatus;
    // ELB logs the body bytes sent: a chunked body's without its framing.
    const scanner = this.#respScanner;
    const sent = scanner === null ? this.#sent : scanner.payloadBytes;
    log.record(
      view,
      this.#client.socket,
      this.#start,
      this.#target,
      status,
      this.#backendStatus,
      this.#backendMs,
      sent,
    );
  }
}
