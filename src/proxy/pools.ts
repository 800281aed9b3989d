import type { ConnectionOptions } from "node:tls";
import type { BackendAuth } from "./backend-auth.js";
import { OriginPool } from "./http/origin-pool.js";

/**
 * ELB's default idle timeout (connectionSettings.idleTimeout). Listeners apply the load balancer's
 * own value per request; this is the fallback.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Back-end connections per origin at most; past it requests wait in the surge queue. */
export const DEFAULT_MAX_BACKEND_CONNECTIONS = 512;

/**
 * Keep-alive connection pools to back-end origins, shared by every routing table that names the
 * origin and counted by reference: a pool is closed (idle connections at once, busy ones as their
 * exchanges finish) when the last table that used it is released.
 */
export class PoolRegistry {
  readonly #pools = new Map<string, { pool: OriginPool; refs: number }>();
  readonly #maxConnections: number;

  constructor(maxConnections = DEFAULT_MAX_BACKEND_CONNECTIONS) {
    this.#maxConnections = maxConnections;
  }

  /**
   * The pool for an origin. `tls` non-null: the back end speaks HTTPS, with these options, and
   * with `auth` its certificate must carry one of the policy's keys (pools differ by keys).
   */
  acquire(
    host: string,
    port: number,
    tls: ConnectionOptions | null = null,
    auth: BackendAuth | null = null,
  ): OriginPool {
    const keys = auth === null ? "" : auth.keys.map((k) => k.toString("base64")).join(",");
    const origin = `${tls === null ? "http" : `https(${keys})`}://${host}:${port}`;
    const entry = this.#pools.get(origin);
    if (entry !== undefined) {
      entry.refs++;
      return entry.pool;
    }
    const pool = new OriginPool({ host, port, tls, auth, maxConnections: this.#maxConnections });
    this.#pools.set(origin, { pool, refs: 1 });
    return pool;
  }

  release(pool: OriginPool): void {
    for (const [origin, entry] of this.#pools) {
      if (entry.pool !== pool) continue;
      entry.refs--;
      if (entry.refs > 0) return;
      this.#pools.delete(origin);
      pool.close();
      return;
    }
  }

  /** Every open pool to `host` (connection draining closes them when it ends). */
  poolsTo(host: string, port: number): OriginPool[] {
    const out: OriginPool[] = [];
    for (const { pool } of this.#pools.values()) if (pool.host === host && pool.port === port) out.push(pool);
    return out;
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Closes every pool: busy connections get `graceMs`, then are cut. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.#pools.values()].map((e) => e.pool);
    this.#pools.clear();
    for (const p of pools) p.close();
    const deadline = Date.now() + graceMs;
    while (pools.some((p) => p.size > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const p of pools) p.destroy();
  }
}
