import type { IncomingMessage } from "node:http";
import { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { RouteTarget } from "../target.js";
import { downstreamResponseHeaders } from "./headers.js";

/** The listener side an exchange needs: a fallback pick for the one retry, and drain state. */
export interface ExchangeHost {
  readonly metrics: LoadBalancerMetrics;
  readonly draining: boolean;
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
  #target: RouteTarget;
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
    res.exchange = this;
    res.on("close", onResponseClose);
  }

  dispatch(): void {
    const req = this.#req;
    const pool = this.#target.pool;
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
    this.#host.metrics.backendStatus(statusCode);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (res.destroyed) {
      controller.abort(CLIENT_GONE);
      return;
    }
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
    replyElbError(this.#res, status, this.#host.metrics);
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#res.exchange = null;
    this.#host.exchangeDone();
  }
}

function onResponseClose(this: ProxyResponse): void {
  this.exchange?.responseClosed();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.drained();
}
