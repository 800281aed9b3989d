/**
 * HAProxy's `maxconn`, for an agent: a cap on the client connections the whole agent holds and
 * on those one load balancer's node holds, below the process's file-descriptor limit. What is
 * left under the limit is a reserve for the agent's own work — health checks, connections to
 * back ends, the control channel, metrics — so a flood of idle clients can neither starve the
 * other load balancers on the agent nor make every health check fail (which, before the cap, took
 * every back end OutOfService and kept answering 503 after the flood had gone).
 *
 * A connection over a cap is closed as it is accepted, counted, and logged at a bounded rate.
 */
import { readFileSync } from "node:fs";
import type { Server, Socket } from "node:net";
import type { Logger } from "../util/logger.js";
import type { LoadBalancerMetrics } from "./metrics.js";

export interface ConnectionLimits {
  /** Client connections the agent holds at most, over all its listeners. */
  readonly maxConnections: number;
  /** Client connections one load balancer's node holds at most. */
  readonly maxNodeConnections: number;
}

/** Descriptors kept for the agent's own work: at least this many… */
const MIN_RESERVE = 256;
/** …or this share of the limit. */
const RESERVE_SHARE = 0.1;
/** A node may take at most this share of the agent's connections. */
const NODE_SHARE = 0.5;
/** At most one log line about refused connections in this long. */
const LOG_EVERY_MS = 10_000;

/** The soft limit on open files of this process (Linux /proc), or undefined where unknown. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.trim().split(/\s+/)[3];
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Caps from a descriptor limit: the reserve off the top, then half of the rest for client
 * connections (each may hold a second descriptor to its back end), and half of that per node.
 */
export function limitsFor(fileLimit: number): ConnectionLimits {
  const reserve = Math.max(MIN_RESERVE, Math.ceil(fileLimit * RESERVE_SHARE));
  const maxConnections = Math.max(1, Math.floor((fileLimit - reserve) / 2));
  return { maxConnections, maxNodeConnections: Math.max(1, Math.floor(maxConnections * NODE_SHARE)) };
}

export class ConnectionBudget {
  readonly limits: ConnectionLimits;
  readonly #log: Logger;
  readonly #byNode = new Map<string, number>();
  #open = 0;
  /** Refused since start (all nodes). */
  #refused = 0;
  #refusedSinceLog = 0;
  #lastLog = 0;

  constructor(limits: ConnectionLimits, log: Logger) {
    this.limits = limits;
    this.#log = log;
  }

  /** Client connections open now, over every listener. */
  get open(): number {
    return this.#open;
  }

  /** Client connections open now on one load balancer's node. */
  openOn(node: string): number {
    return this.#byNode.get(node) ?? 0;
  }

  get refused(): number {
    return this.#refused;
  }

  /**
   * Makes `server` (a listener of load balancer `node`) close each connection past a cap before
   * anything else handles it, and count the rest while they are open. Registered before the
   * server's own handlers (for TLS, before the handshake starts).
   */
  guard(server: Server, node: string, metrics: LoadBalancerMetrics): void {
    server.prependListener("connection", (socket: Socket) => {
      if (!this.#admit(node)) {
        metrics.rejectedConnectionCount++;
        socket.destroy();
        return;
      }
      metrics.newConnections++;
      metrics.activeConnections++;
      socket.once("close", () => {
        metrics.activeConnections--;
        this.#release(node);
      });
    });
  }

  #admit(node: string): boolean {
    const n = this.#byNode.get(node) ?? 0;
    if (this.#open >= this.limits.maxConnections || n >= this.limits.maxNodeConnections) {
      this.#refused++;
      this.#refusedSinceLog++;
      const now = Date.now();
      if (now - this.#lastLog >= LOG_EVERY_MS) {
        this.#log.warn("client connections refused: connection cap reached", {
          loadBalancer: node,
          refused: this.#refusedSinceLog,
          open: this.#open,
          nodeOpen: n,
          ...this.limits,
        });
        this.#lastLog = now;
        this.#refusedSinceLog = 0;
      }
      return false;
    }
    this.#open++;
    this.#byNode.set(node, n + 1);
    return true;
  }

  #release(node: string): void {
    this.#open--;
    const n = (this.#byNode.get(node) ?? 1) - 1;
    if (n <= 0) this.#byNode.delete(node);
    else this.#byNode.set(node, n);
  }
}
