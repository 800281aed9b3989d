import { Pool } from "undici";
import type { Logger } from "../util/logger.js";

/**
 * ELB's default idle timeout (connectionSettings.idleTimeout). Listeners apply the load balancer's
 * own value per request; the pools' timeouts are only the fallback.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/**
 * Keep-alive connection pools to back-end origins, shared by every routing table that names the
 * origin and counted by reference: a pool is closed (gracefully: queued and in-flight requests
 * finish) when the last table that used it is released.
 */
export class PoolRegistry {
  readonly #pools = new Map<string, { pool: Pool; refs: number }>();
  readonly #log: Logger;
  readonly #connections: number;

  /** `connections` must be at least the expected client concurrency (see PERF-NOTES). */
  constructor(log: Logger, connections = 128) {
    this.#log = log;
    this.#connections = connections;
  }

  /**
   * `tls`: the back end speaks HTTPS. Its certificate is not verified: ELB verifies back-end
   * certificates only under a BackendServerAuthentication policy, which Ballast does not implement.
   */
  acquire(host: string, port: number, tls = false): Pool {
    const origin = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const entry = this.#pools.get(origin);
    if (entry !== undefined) {
      entry.refs++;
      return entry.pool;
    }
    const pool = new Pool(origin, {
      connections: this.#connections,
      pipelining: 1,
      headersTimeout: DEFAULT_IDLE_TIMEOUT_MS,
      bodyTimeout: DEFAULT_IDLE_TIMEOUT_MS,
      connectTimeout: 10_000,
      ...(tls ? { connect: { rejectUnauthorized: false } } : {}),
    });
    this.#pools.set(origin, { pool, refs: 1 });
    return pool;
  }

  release(pool: Pool): void {
    for (const [origin, entry] of this.#pools) {
      if (entry.pool !== pool) continue;
      entry.refs--;
      if (entry.refs > 0) return;
      this.#pools.delete(origin);
      pool.close().catch((err: unknown) => this.#log.warn("closing back-end pool failed", { origin, err }));
      return;
    }
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Closes every pool: in-flight requests get `grace` ms, then are destroyed. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.#pools.values()].map((e) => e.pool);
    this.#pools.clear();
    await Promise.all(
      pools.map(async (p) => {
        const timer = setTimeout(() => void p.destroy().catch(() => {}), graceMs);
        timer.unref();
        try {
          await p.close();
        } catch {
          // Already destroyed by the grace timer: nothing left to wait for.
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
