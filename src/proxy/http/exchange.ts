import type { IncomingMessage } from "node:http";
import { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Dispatcher } from "undici";
import type { AccessLog } from "../access-log.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { RouteTarget } from "../target.js";
import { downstreamResponseHeaders } from "./headers.js";

/** The listener side an exchange needs: a fallback pick for the one retry, and drain state. */
export interface ExchangeHost {
  readonly metrics: LoadBalancerMetrics;
  /** Non-null while the load balancer's access log is enabled. */
  readonly accessLog: AccessLog | null;
  readonly draining: boolean;
  /** How long the back end may stay silent (before headers, or between body chunks): then 504. */
  readonly idleTimeoutMs: number;
  pick(exclude: RouteTarget): RouteTarget | undefined;
  exchangeDone(): void;
}

/** node:http's response with a slot for its exchange, so shared listeners find it without closures. */
export class ProxyResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
  exchange: Exchange | null = null;
}

const CLIENT_GONE = new Error("client closed the connection");
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

const BODIES: Record<number, Buffer> = {
  502: Buffer.from("502 Bad Gateway: the back end sent an invalid response\n"),
  503: Buffer.from("503 Service Unavailable: no back end is available\n"),
  504: Buffer.from("504 Gateway Timeout: the back end did not answer in time\n"),
};

/** The body length of the load balancer's own error response (for access logs). */
export function elbErrorBytes(status: 502 | 503 | 504): number {
  return (BODIES[status] as Buffer).length;
}

/** Answers a request with an error of the load balancer's own (counted as HTTPCode_ELB_5XX). */
export function replyElbError(
  res: ServerResponse,
  status: 502 | 503 | 504,
  metrics: LoadBalancerMetrics,
): void {
  metrics.elb5xx++;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = BODIES[status] as Buffer;
  res.writeHead(status, ["Content-Type", "text/plain", "Content-Length", String(body.length)]);
  res.end(body);
}

/**
 * One proxied request: the raw undici dispatch handler that streams the back end's response into
 * the client's. Backpressure pauses the upstream until the client drains; a client that goes away
 * aborts the upstream instead, so a pooled connection is never left paused.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly #host: ExchangeHost;
  readonly #req: IncomingMessage;
  readonly #res: ProxyResponse;
  readonly #headers: string[];
  /** `performance.now()` at arrival: the one timestamp taken per request. */
  readonly #start = performance.now();
  /** The client connection, for the access log (node:http detaches it when the response ends). */
  readonly #socket: Socket;
  /** Milliseconds until the back end's response headers; -1 until then. */
  #backendMs = -1;
  #backendStatus = 0;
  #sent = 0;
  #target: RouteTarget;
  /** The target whose in-flight count this exchange holds, until it finishes or retries. */
  #held: RouteTarget | null = null;
  #controller: Dispatcher.DispatchController | null = null;
  #retried = false;
  #responded = false;
  #clientGone = false;
  #done = false;
  #drainHooked = false;

  constructor(
    host: ExchangeHost,
    req: IncomingMessage,
    res: ProxyResponse,
    target: RouteTarget,
    headers: string[],
  ) {
    this.#host = host;
    this.#req = req;
    this.#res = res;
    this.#target = target;
    this.#headers = headers;
    this.#socket = req.socket;
    res.exchange = this;
    res.on("close", onResponseClose);
  }

  dispatch(): void {
    const req = this.#req;
    const target = this.#target;
    target.acquire();
    this.#held = target;
    const pool = target.pool;
    if (pool === null) {
      this.#fail(503);
      return;
    }
    const te = req.headers["transfer-encoding"];
    const cl = req.headers["content-length"];
    const hasBody = te !== undefined || (cl !== undefined && cl !== "0");
    try {
      pool.dispatch(
        {
          path: req.url ?? "/",
          method: req.method ?? "GET",
          headers: this.#headers,
          body: hasBody ? req : null,
          headersTimeout: this.#host.idleTimeoutMs,
          bodyTimeout: this.#host.idleTimeoutMs,
        },
        this,
      );
    } catch {
      // A closed pool (its table was swapped out under a retry) or headers undici refuses.
      this.#fail(503);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(CLIENT_GONE);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    _headers: unknown,
    statusMessage?: string,
  ): void {
    const res = this.#res;
    if (res.destroyed) {
      controller.abort(CLIENT_GONE);
      return;
    }
    const raw = controller.rawHeaders;
    const fields = Array.isArray(raw) ? downstreamResponseHeaders(raw) : [];
    if (this.#host.draining) res.shouldKeepAlive = false;
    try {
      if (statusMessage) res.writeHead(statusCode, statusMessage, fields);
      else res.writeHead(statusCode, fields);
    } catch {
      controller.abort(new Error("back-end response headers rejected"));
      return;
    }
    this.#responded = true;
    const ms = performance.now() - this.#start;
    this.#backendMs = ms;
    this.#backendStatus = statusCode;
    this.#host.metrics.backendStatus(statusCode);
    this.#host.metrics.observeLatency(ms);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (res.destroyed) {
      controller.abort(CLIENT_GONE);
      return;
    }
    this.#sent += chunk.length;
    if (res.write(chunk)) return;
    controller.pause();
    if (!this.#drainHooked) {
      this.#drainHooked = true;
      res.on("drain", onResponseDrain);
    }
  }

  onResponseEnd(): void {
    this.#res.end();
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#done) return;
    if (this.#clientGone) {
      this.#finish();
      return;
    }
    if (this.#responded) {
      // Mid-body failure: the status line is gone, so the only honest signal is a cut connection.
      this.#res.destroy();
      this.#finish();
      return;
    }
    if (this.#controller === null) {
      // Nothing reached the back end: a connection failure. One retry on another back end, if the
      // request body is still unread.
      this.#host.metrics.backendConnectionErrors++;
      if (!this.#retried && !this.#req.readableDidRead) {
        const next = this.#host.pick(this.#target);
        if (next !== undefined) {
          this.#retried = true;
          this.#release();
          this.#target = next;
          this.dispatch();
          return;
        }
      }
      this.#fail(503);
      return;
    }
    const code = (err as { code?: unknown }).code;
    this.#fail(typeof code === "string" && TIMEOUT_CODES.has(code) ? 504 : 502);
  }

  /** @internal The client's response closed (finished or cut). */
  responseClosed(): void {
    if (this.#done) return;
    if (this.#res.writableFinished) return;
    this.#clientGone = true;
    this.#controller?.abort(CLIENT_GONE);
  }

  /** @internal The client drained its buffer. */
  drained(): void {
    this.#controller?.resume();
  }

  #fail(status: 502 | 503 | 504): void {
    if (!this.#res.headersSent && !this.#res.destroyed) this.#sent += elbErrorBytes(status);
    replyElbError(this.#res, status, this.#host.metrics);
    this.#finish();
  }

  #release(): void {
    this.#held?.release();
    this.#held = null;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#release();
    const res = this.#res;
    res.exchange = null;
    const log = this.#host.accessLog;
    if (log !== null) {
      const elbStatus = res.headersSent ? res.statusCode : 0;
      log.record(
        this.#req,
        this.#socket,
        this.#start,
        this.#target,
        elbStatus,
        this.#backendStatus,
        this.#backendMs,
        this.#sent,
      );
    }
    this.#host.exchangeDone();
  }
}

function onResponseClose(this: ProxyResponse): void {
  this.exchange?.responseClosed();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.drained();
}
