import type { Pool } from "undici";
import type { Balancer, BalancerTarget } from "./balancer/balancer.js";
import type { BackendHealth } from "./health/state.js";

/** One back end as a listener routes to it: its observed health and where to connect. */
export class RouteTarget implements BalancerTarget {
  readonly health: BackendHealth;
  readonly host: string;
  readonly port: number;
  /** The keep-alive pool to the back end (HTTP listeners only). */
  readonly pool: Pool | null;

  constructor(health: BackendHealth, port: number, pool: Pool | null) {
    this.health = health;
    this.host = health.address;
    this.port = port;
    this.pool = pool;
  }

  get inService(): boolean {
    return this.health.inService;
  }
}

/** A listener's routing state: built aside, then swapped in whole. */
export interface RoutingTable {
  readonly targets: readonly RouteTarget[];
  readonly balancer: Balancer<RouteTarget>;
}

/** What a listener is told to route to: back ends in registration order, and the instance port. */
export interface RouteSpec {
  readonly backends: readonly BackendHealth[];
  readonly instancePort: number;
}

/** A listener of a load-balancer node, whatever its protocol. */
export interface ProxyListener {
  readonly port: number;
  readonly bound: boolean;
  /** Binds; resolves false (after logging) when the bind fails. Retries if a previous bind failed. */
  listen(): Promise<boolean>;
  /** Builds a new routing table aside and swaps it in. */
  route(spec: RouteSpec): void;
  /** Stops accepting, lets in-flight work finish for up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}
