/**
 * What an exchange (`exchange.ts`) needs from the two sides it joins: its listener (metrics,
 * access log, settings, the retry's second pick) and its client connection (the socket, the
 * response writer, the end of the exchange and the switch to a tunnel).
 */
import type { Socket } from "node:net";
import type { AccessLog } from "../access-log.js";
import type { LoadBalancerMetrics } from "../metrics.js";
import type { RouteTarget } from "../target.js";
import type { ResponseWriter } from "./response-writer.js";

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
  /** Writes responses to this client; one per connection, begun again by each exchange. */
  readonly writer: ResponseWriter;
  /** The response is complete; `close`: end the client connection after it. */
  exchangeFinished(close: boolean): void;
  /** A 101 was forwarded: from now on client bytes go to `backend` as they come. */
  startTunnel(backend: Socket): void;
}
