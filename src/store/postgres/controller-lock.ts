/**
 * The active controller among control-plane replicas on one PostgreSQL database: whoever holds a
 * session-level advisory lock, taken on a connection of its own. PostgreSQL is the arbiter, so no
 * consensus protocol of ours: when the holder dies (even by SIGKILL) its session ends and the
 * server frees the lock; the next replica's try takes it within one poll interval.
 *
 * A replica that loses its lock connection — the socket fails, the server ends the session, or a
 * heartbeat goes unanswered — stops being active at once, before it even tries to reconnect: it
 * can no longer prove it holds the lock, and another replica may already have it.
 *
 * Every replica names its lock session `bc:<schema>:<id>` (application_name), so any replica can
 * list the others and see which one holds the lock from `pg_stat_activity` and `pg_locks` alone:
 * no table of our own, no heartbeat rows, and liveness is exactly "its session is open".
 */
import pg from "pg";
import type { ActiveController, ControlPlaneReplica } from "../../model/leadership.js";
import type { Logger } from "../../util/logger.js";

/** Identifies "the active controller" among advisory locks: ASCII "BLAC". */
const CONTROLLER_LOCK_CLASS = 0x424c4143;
/**
 * A replica that lost the lock with its connection waits this many poll intervals (at least a
 * second) before it tries again, so a standby takes over rather than the replica whose connection
 * just failed winning the race back.
 */
const HOLD_OFF_POLLS = 5;
/** A standby that cannot reach the database says so at most this often. */
const WARN_EVERY_MS = 60_000;
/** PostgreSQL keeps 63 bytes of an application_name. */
const APPLICATION_NAME_MAX = 63;

export interface ControllerLockOptions {
  readonly connectionString: string;
  /** The journal's schema: one controller per journal. */
  readonly schema: string;
  /** This replica's name in listings and logs (`host:apiPort:pid`). */
  readonly replicaId: string;
  readonly logger: Logger;
  /** How often a standby tries the lock, and the active one checks its connection. Default 500 ms. */
  readonly pollMs?: number;
  /** A heartbeat unanswered this long counts as a lost connection. Default 2000 ms. */
  readonly heartbeatTimeoutMs?: number;
}

export class ControllerLock implements ActiveController {
  readonly #o: ControllerLockOptions;
  readonly #listeners = new Set<(active: boolean) => void>();
  readonly #appName: string;
  #client: pg.Client | undefined;
  #active = false;
  #activeSince: string | null = null;
  #takeovers = 0;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #warnedAt = 0;
  /** Until when (ms since epoch) this replica leaves the lock to the others, after losing it. */
  #holdOffUntil = 0;

  constructor(opts: ControllerLockOptions) {
    this.#o = opts;
    this.#appName = `bc:${opts.schema}:${opts.replicaId}`.slice(0, APPLICATION_NAME_MAX);
  }

  get replicaId(): string {
    return this.#o.replicaId;
  }

  isActive(): boolean {
    return this.#active;
  }

  /** When this replica last became active (ISO 8601), or null while it is a standby. */
  get activeSince(): string | null {
    return this.#activeSince;
  }

  /** Times this replica became the active controller since start. */
  get takeovers(): number {
    return this.#takeovers;
  }

  onChange(listener: (active: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tries the lock now, then every poll interval; resolves after the first try. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    const every = this.#o.pollMs ?? 500;
    const loop = (): void => {
      this.#ticking = this.#tick().finally(() => {
        if (this.#stopped) return;
        this.#timer = setTimeout(loop, every);
        this.#timer.unref();
      });
    };
    loop();
    await this.#ticking;
  }

  /** Gives the lock up (its session ends) and stops trying. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#ticking;
    this.#lost(undefined);
  }

  /**
   * Every replica connected to this journal, the active one marked, as the database sees them —
   * asked on this replica's own lock connection (refused while it is down: then nothing is known).
   */
  async replicas(): Promise<ControlPlaneReplica[]> {
    const db = this.#client;
    if (db === undefined) throw new Error("the controller lock connection is down; retrying");
    const prefix = `bc:${this.#o.schema}:`;
    const res = await db.query<{ name: string; since: Date; address: string | null; active: boolean }>(
      `SELECT a.application_name AS name, a.backend_start AS since, host(a.client_addr) AS address,
              EXISTS (SELECT 1 FROM pg_locks l
                      WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
                        AND l.classid = $2::bigint::oid AND l.objsubid = 2
                        AND l.objid = (hashtext($3)::bigint & 4294967295)::oid) AS active
       FROM pg_stat_activity a
       WHERE a.datname = current_database() AND left(a.application_name, length($1)) = $1
       ORDER BY a.application_name`,
      [prefix, CONTROLLER_LOCK_CLASS, this.#o.schema],
    );
    return res.rows.map((r) => ({
      id: r.name.slice(prefix.length),
      active: r.active,
      connectedSince: r.since.toISOString(),
      address: r.address,
    }));
  }

  async #tick(): Promise<void> {
    try {
      if (!this.#active && Date.now() < this.#holdOffUntil) return;
      const client = this.#client ?? (await this.#connect());
      if (this.#active) {
        await client.query("SELECT 1");
        return;
      }
      const res = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [
        CONTROLLER_LOCK_CLASS,
        this.#o.schema,
      ]);
      // Stopped or lost while the query ran: a lock taken now would be released with the session.
      if (res.rows[0]?.ok === true && client === this.#client && !this.#stopped) this.#become(true);
    } catch (e) {
      this.#lost(e);
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#o.connectionString,
      application_name: this.#appName,
      keepAlive: true,
      connectionTimeoutMillis: 2000,
      query_timeout: this.#o.heartbeatTimeoutMs ?? 2000,
    });
    // The socket failing or the server ending the session: the lock is gone with it.
    client.on("error", (e) => {
      if (this.#client === client) this.#lost(e);
    });
    client.on("end", () => {
      if (this.#client === client) this.#lost(new Error("lock connection ended"));
    });
    this.#client = client;
    try {
      await client.connect();
    } catch (e) {
      if (this.#client === client) this.#client = undefined;
      throw e;
    }
    return client;
  }

  /** The lock connection is gone or given up: inactive at once, a fresh connection next tick. */
  #lost(err: unknown): void {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) client.end().catch(() => undefined);
    if (this.#active) {
      if (err !== undefined) {
        this.#o.logger.error("lost the controller lock connection: no longer the active controller", {
          replica: this.#o.replicaId,
          err,
        });
        this.#holdOffUntil = Date.now() + Math.max(1000, HOLD_OFF_POLLS * (this.#o.pollMs ?? 500));
      }
      this.#become(false);
    } else if (err !== undefined && !this.#stopped && Date.now() - this.#warnedAt >= WARN_EVERY_MS) {
      // While the database is unreachable this fails every poll: one line a minute says so.
      this.#warnedAt = Date.now();
      this.#o.logger.warn("controller lock connection failed; retrying", { replica: this.#o.replicaId, err });
    }
  }

  #become(active: boolean): void {
    if (this.#active === active) return;
    this.#active = active;
    this.#activeSince = active ? new Date().toISOString() : null;
    if (active) this.#takeovers++;
    this.#o.logger[active ? "warn" : "info"](
      active ? "this replica is now the active controller" : "this replica is a standby controller",
      { replica: this.#o.replicaId },
    );
    for (const l of this.#listeners) l(active);
  }
}
