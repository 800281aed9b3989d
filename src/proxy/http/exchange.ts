/**
 * One proxied request on raw sockets: the request head (already rewritten) and body go to a
 * back-end connection, the response comes back with its framing tracked so both connections can
 * be reused. Bytes are forwarded as received; only heads are rebuilt. Backpressure pauses the
 * sending socket until the receiving one drains.
 */
import type { AccessLog } from "../access-log.js";
import type { ParsedRequest } from "../http1/request.js";
import { type ParsedResponse, responseBodyKind } from "../http1/response.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { RouteTarget } from "../target.js";
import type { ElbStatus } from "./elb-errors.js";
import type { ClientSide, ExchangeHost } from "./exchange-ports.js";
import { downstreamResponseHead } from "./headers.js";
import { accessLogRequest } from "./log-view.js";
import type { BackendConnection, BackendUser } from "./origin-pool.js";
import { RequestBody } from "./request-body.js";
import { type Framing, ResponseReader, type ResponseSink } from "./response-reader.js";
import type { ResponseWriter } from "./response-writer.js";
import { type StickyRequest, stickyLineFor } from "./stickiness.js";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

export class Exchange implements BackendUser, ResponseSink {
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
  /** The request body; null for requests without one (most). */
  readonly #body: RequestBody | null;
  readonly #reader: ResponseReader = new ResponseReader(this);
  readonly #writer: ResponseWriter;
  #backendReusable = false;
  #closeClient = false;
  #backendStatus = 0;
  #backendMs = -1;
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
    this.#writer = client.writer;
    this.#writer.begin();
    this.#req = req;
    this.#target = target;
    this.#head = head;
    this.#sticky = sticky;
    this.#closeAfter = closeAfter;
    this.#body =
      req.chunked || req.contentLength > 0
        ? new RequestBody(req.contentLength, req.chunked, client.socket)
        : null;
  }

  /** The whole request body has arrived (at once when there is none). */
  get bodyDone(): boolean {
    return this.#body === null || this.#body.done;
  }

  /** Answered and finished (it may finish inside `start`, e.g. a spillover 503). */
  get done(): boolean {
    return this.#done;
  }

  /** Sends the request to the target's pool (now, or when the surge queue reaches it). */
  start(): void {
    this.#dispatch(this.#target);
  }

  /** Client bytes of the request body from `off`; returns the offset just past this request's body. */
  feedBody(buf: Buffer, off: number): number {
    const body = this.#body;
    if (body === null) return off;
    const end = body.end(buf, off);
    if (end < 0) {
      this.#clientProtocolError();
      return buf.length;
    }
    if (end > off && !this.#done) {
      body.send(off === 0 && end === buf.length ? buf : buf.subarray(off, end), this.#conn?.socket ?? null);
    }
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
    const body = this.#body;
    if (body === null) {
      // Most requests: the head alone, one write without the cork/uncork bookkeeping.
      s.write(this.#head, "latin1");
    } else {
      s.cork();
      s.write(this.#head, "latin1");
      body.flushTo(s, this.#retried);
      s.uncork();
      body.resumeClient();
    }
  }

  backendData(chunk: Buffer): void {
    this.#reader.feed(chunk);
    this.#writer.flush();
  }

  backendClosed(conn: BackendConnection, connected: boolean): void {
    this.#conn = null;
    if (this.#done) return;
    const reader = this.#reader;
    if (reader.closeDelimited) {
      this.#writer.flush();
      this.#finish(true);
      return;
    }
    if (reader.tunnel) {
      this.#client.socket.end();
      this.#finish(true);
      return;
    }
    if (reader.started) {
      // Mid-body: the status line is gone, so the only honest signal is a cut connection.
      this.#cutClient();
      return;
    }
    if (!reader.untouched) {
      // Closed inside the response head: what came is not a response.
      this.#fail(502);
      return;
    }
    if (!connected) {
      this.metrics.backendConnectionErrors++;
      this.#target.health.stats.connectionErrors++;
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
    if (!this.#reader.started) {
      this.#dropBackend();
      this.#fail(504);
      return;
    }
    this.#cutBoth();
  }

  backendDrained(): void {
    this.#body?.resumeClient();
  }

  // ---- from the client connection ----

  /** The client socket drained: resume the back end. */
  clientDrained(): void {
    this.#writer.resume();
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
    if (this.#reader.tunnel) {
      this.#cutBoth();
      return true;
    }
    if (this.bodyDone) return false;
    this.#dropBackend();
    this.#reply(408, false);
    return true;
  }

  // ---- ResponseSink: what the reader finds in the back end's bytes ----

  /** @internal An interim response (100 Continue, 103): passed on to HTTP/1.1 clients. */
  interim(r: ParsedResponse): void {
    if (this.#req.minor >= 1) this.#writer.head(downstreamResponseHead(r, "", ""));
  }

  /** @internal The final response head: decides how both connections go on. */
  head(r: ParsedResponse): Framing | null {
    const ms = performance.now() - this.#start;
    this.#backendMs = ms;
    this.#backendStatus = r.status;
    this.metrics.backendStatus(r.status);
    this.metrics.observeLatency(ms);
    this.#target.health.stats.response(r.status, ms);
    this.#body?.release();
    if (r.status === 101) {
      if (!this.#req.upgrade) {
        this.#dropBackend();
        this.#fail(502);
        return null;
      }
      this.#writer.head(downstreamResponseHead(r, "upgrade", ""));
      const conn = this.#conn as BackendConnection;
      conn.setTimeout(this.#host.idleTimeoutMs);
      this.#client.startTunnel(conn.socket);
      return "tunnel";
    }
    const kind = responseBodyKind(this.#req.method, r);
    this.#backendReusable = r.keepAlive && kind !== "close";
    this.#closeClient =
      this.#closeAfter || !this.#req.keepAlive || this.#host.draining || kind === "close" || !this.bodyDone;
    const connection = this.#closeClient ? "close" : this.#req.minor === 0 ? "keep-alive" : "";
    // Held until the first body bytes, so head and body usually leave in one write.
    this.#writer.holdHead(
      downstreamResponseHead(
        r,
        connection,
        this.#sticky === null ? "" : stickyLineFor(this.#sticky, this.#target.stickyToken, r.headers),
      ),
    );
    return kind;
  }

  /** @internal */
  body(b: Buffer): void {
    this.#writer.body(b, this.#conn);
  }

  /** @internal The response is complete; `extra` bytes followed it in the last read. */
  end(extra: number): void {
    this.#writer.flush();
    const conn = this.#conn;
    if (conn !== null) {
      this.#writer.resume();
      const reusable = this.#backendReusable && extra === 0 && !this.#reader.trailing;
      if (reusable && this.bodyDone && !this.#closeAfter) {
        this.#conn = null;
        conn.pool.release(conn);
      } else {
        this.#dropBackend();
      }
    }
    this.#finish(this.#closeClient);
  }

  /** @internal */
  invalid(): void {
    if (this.#reader.started) {
      this.#cutBoth();
      return;
    }
    this.#dropBackend();
    this.#fail(502);
  }

  #retry(connectFailed: boolean): boolean {
    const body = this.#body;
    // A body partly sent cannot be resent whole; one not yet begun, or held complete, can.
    if (this.#retried || (body !== null && (!body.replayable || (!body.done && body.bytes > 0))))
      return false;
    const next = this.#host.pick(connectFailed ? this.#target : undefined);
    if (next === undefined || next.pool === null) return false;
    this.#retried = true;
    this.#releaseTarget();
    this.#dispatch(next);
    return true;
  }

  /** Holds `target` and asks its pool for a connection, now or from the surge queue; 503 when neither. */
  #dispatch(target: RouteTarget): void {
    this.#target = target;
    target.acquire();
    this.#held = true;
    const pool = target.pool;
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

  #clientProtocolError(): void {
    if (this.#done) return;
    this.#dropBackend();
    if (!this.#reader.started) this.#reply(400, false);
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
    if (this.#reader.started) {
      this.#cutClient();
      return;
    }
    this.#reader.stop();
    this.#writer.elbError(status, keepAlive);
    this.#finish(!keepAlive);
  }

  /** Detaches from the back-end connection and closes it (not reusable), or leaves the surge queue. */
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
    const elbStatus = this.#writer.elbStatus;
    const status = elbStatus !== 0 ? elbStatus : this.#backendStatus;
    // ELB logs the body bytes sent: a chunked body's without its framing.
    const sent = this.#reader.chunkedPayload ?? this.#writer.sent;
    log.record(
      accessLogRequest(this.#req, this.#body?.bytes ?? 0),
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
