import type { ListenerSpec } from "../model/node-spec.js";
import type { AccessLog } from "./access-log.js";
import type { Balancer, BalancerTarget } from "./balancer/balancer.js";
import type { BackendHealth } from "./health/state.js";
import type { OriginPool } from "./http/origin-pool.js";
import type { ListenerTls } from "./tls-context.js";

/** A back end's in-flight request count on one listener; it outlives routing tables. */
export class OutstandingCount {
  n = 0;
}

/** One back end as a listener routes to it: its observed health and where to connect. */
export class RouteTarget implements BalancerTarget {
  readonly health: BackendHealth;
  readonly host: string;
  readonly port: number;
  /** The keep-alive pool to the back end (HTTP listeners only). */
  readonly pool: OriginPool | null;
  /** The `AWSELB` cookie value that sticks a client to this back end (HTTP listeners only). */
  readonly stickyToken: string;
  /** Shared with this back end's targets in earlier and later tables of the same listener. */
  readonly #count: OutstandingCount;

  constructor(
    health: BackendHealth,
    port: number,
    pool: OriginPool | null,
    count = new OutstandingCount(),
    stickyToken = "",
  ) {
    this.health = health;
    this.stickyToken = stickyToken;
    this.host = health.address;
    this.port = port;
    this.pool = pool;
    this.#count = count;
  }

  get inService(): boolean {
    return this.health.inService;
  }

  /** Requests dispatched to this back end by this listener and not yet finished. */
  get outstanding(): number {
    return this.#count.n;
  }

  /** A request was dispatched here. */
  acquire(): void {
    this.#count.n++;
  }

  /** A request dispatched here finished (or moved to another back end). */
  release(): void {
    this.#count.n--;
  }
}

/** A listener's routing state: built aside, then swapped in whole. */
export interface RoutingTable {
  readonly targets: readonly RouteTarget[];
  readonly balancer: Balancer<RouteTarget>;
}

/** Everything a listener runs with, given whole on each apply. */
export interface ListenerInput {
  /** The load balancer's name (sticky cookie values name its instances). */
  readonly loadBalancer: string;
  readonly spec: ListenerSpec;
  /** The back ends it routes to, in registration order: their observed health and address. */
  readonly backends: readonly BackendHealth[];
  /** HTTPS/SSL: the context to accept clients with; null otherwise. */
  readonly tls: ListenerTls | null;
}

/** A listener of a load-balancer node, whatever its protocol. */
export interface ProxyListener {
  readonly port: number;
  readonly bound: boolean;
  /** The load balancer's access log while logging is on. */
  accessLog: AccessLog | null;
  /** Binds; resolves false (after logging) when the bind fails. Retries if a previous bind failed. */
  listen(): Promise<boolean>;
  /**
   * Builds the listener's new state (routing table, request policy, idle timeout, TLS context)
   * aside from `input` and swaps it in within one synchronous call: a request sees either the
   * old state or the new, never a mix. Open connections stay open.
   */
  apply(input: ListenerInput): void;
  /** Stops accepting, lets in-flight work finish for up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}
