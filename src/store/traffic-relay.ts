/**
 * Traffic history shared by control-plane replicas on one PostgreSQL. An agent reports to one
 * replica at a time, so each replica's history (store/traffic-history.ts) held only the agents
 * reporting to it, and the console or CLI asking another replica saw nothing. Each replica now
 * relays the traffic figures it receives to the others over `NOTIFY ballast_traffic`, in compact
 * form, with the time it received them; every replica records every agent's reports, each in the
 * interval it arrived in at the replica that took it, so any replica answers with the fleet's
 * history.
 *
 * Figures received within a quarter of a second go out together, cut into notifications under
 * PostgreSQL's 8000-byte payload limit and sent in one statement (delivered together, in order,
 * at commit); a receiver records a batch only when it has every part. Observations, not state:
 * a notification lost while a connection is down is a gap in a chart, like a lost status report,
 * and nothing is stored.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { parseTrafficReports, type TrafficReport } from "../model/traffic.js";
import type { Logger } from "../util/logger.js";
import type { Exposition, MetricFamilies } from "../util/prometheus.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import type { Store } from "./store.js";
import { TrafficHistory } from "./traffic-history.js";

export const TRAFFIC_CHANNEL = "ballast_traffic";
const FLUSH_MS = 250;
/** Characters of a batch per notification (ASCII: one byte each; else at most three). */
const ASCII_PART = 7000;
const UNICODE_PART = 2400;
/** A batch still missing parts after this long is dropped. */
const ASSEMBLY_MS = 10_000;

/** One status report's figures as relayed: agent, region, receipt time, reports. */
type Relayed = [string, string, number, CompactReport[]];
/** loadBalancer, requests, 4xx, 5xx, surge queue, active connections, latency buckets. */
type CompactReport = [string, number, number, number, number, number, number[]];

interface Envelope {
  /** The journal's schema: replicas of another journal on the same server ignore it. */
  readonly s: string;
  /** The sending replica (its own notifications come back to it too). */
  readonly r: string;
  readonly q: number;
  readonly i: number;
  readonly n: number;
  readonly b: string;
}

export class RelayedTrafficHistory extends TrafficHistory implements MetricFamilies {
  readonly #connectionString: string;
  readonly #schema: string;
  readonly #logger: Logger;
  readonly #self = randomBytes(8).toString("hex");
  readonly #pool: pg.Pool;
  readonly #assembling = new Map<string, { parts: (string | undefined)[]; since: number }>();
  #listener: pg.Client | undefined;
  #pending: Relayed[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #seq = 0;
  #closed = false;
  #warnedAt = 0;
  /** Batches relayed to the other replicas, recorded from them, and not relayed (the database failed). */
  relayed = 0;
  received = 0;
  failed = 0;

  constructor(connectionString: string, schema: string, logger: Logger) {
    super();
    this.#connectionString = connectionString;
    this.#schema = schema;
    this.#logger = logger.child({ component: "traffic-relay" });
    this.#pool = new pg.Pool({ connectionString, max: 1, application_name: "ballast-traffic-relay" });
    this.#pool.on("error", (err) => this.#warn("traffic relay connection failed", err));
  }

  /** Starts listening to the other replicas. */
  async start(): Promise<void> {
    await this.#listen();
  }

  override record(
    agentId: string,
    region: string,
    reports: readonly TrafficReport[],
    nowMs = Date.now(),
  ): void {
    super.record(agentId, region, reports, nowMs);
    if (this.#closed) return;
    this.#pending.push([agentId, region, nowMs, reports.map(compact)]);
    this.#flushTimer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  renderInto(exp: Exposition): void {
    exp
      .family(
        "ballast_traffic_relay_batches_total",
        "counter",
        "Batches of agents' traffic figures relayed to the other replicas (sent), recorded from them (received), or not relayed (failed).",
      )
      .sample("ballast_traffic_relay_batches_total", { direction: "sent" }, this.relayed)
      .sample("ballast_traffic_relay_batches_total", { direction: "received" }, this.received)
      .sample("ballast_traffic_relay_batches_total", { direction: "failed" }, this.failed);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#retry);
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.#pool.end();
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0 || this.#closed) return;
    const body = JSON.stringify(batch);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
    const size = /^[\x00-\x7f]*$/.test(body) ? ASCII_PART : UNICODE_PART;
    const n = Math.ceil(body.length / size);
    const q = this.#seq++;
    const payloads = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ s: this.#schema, r: this.#self, q, i, n, b: body.slice(i * size, (i + 1) * size) }),
    );
    this.#pool
      .query(
        `SELECT pg_notify('${TRAFFIC_CHANNEL}', p) FROM unnest($1::text[]) WITH ORDINALITY AS u(p, k) ORDER BY k`,
        [payloads],
      )
      .then(
        () => {
          this.relayed++;
        },
        (err: unknown) => {
          this.failed++;
          this.#warn("traffic figures not relayed to the other replicas", err);
        },
      );
  }

  #receive(payload: string): void {
    let env: Envelope;
    try {
      env = JSON.parse(payload) as Envelope;
    } catch {
      return;
    }
    if (env.s !== this.#schema || env.r === this.#self || typeof env.b !== "string") return;
    if (!Number.isInteger(env.n) || env.n < 1 || env.n > 1000 || !Number.isInteger(env.i)) return;
    const key = `${env.r}:${env.q}`;
    const now = Date.now();
    let a = this.#assembling.get(key);
    if (a === undefined) {
      for (const [k, v] of this.#assembling) if (now - v.since > ASSEMBLY_MS) this.#assembling.delete(k);
      a = { parts: new Array<string | undefined>(env.n).fill(undefined), since: now };
      this.#assembling.set(key, a);
    }
    if (env.i < 0 || env.i >= a.parts.length) return;
    a.parts[env.i] = env.b;
    if (a.parts.some((p) => p === undefined)) return;
    this.#assembling.delete(key);
    let batch: unknown;
    try {
      batch = JSON.parse(a.parts.join(""));
    } catch {
      return;
    }
    if (!Array.isArray(batch)) return;
    for (const item of batch) {
      if (!Array.isArray(item)) continue;
      const [agentId, region, at, reports] = item as unknown[];
      if (typeof agentId !== "string" || typeof region !== "string" || typeof at !== "number") continue;
      // From the database: checked like an agent's own report.
      super.record(agentId, region, parseTrafficReports(expand(reports)), at);
    }
    this.received++;
  }

  /** The notification connection; on loss, a new one after a pause. */
  async #listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#connectionString,
      keepAlive: true,
      application_name: "ballast-traffic-relay",
    });
    const lost = (err: unknown): void => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#warn("traffic relay lost its notifications; reconnecting", err);
      this.#retry = setTimeout(() => {
        this.#listen().catch((e: unknown) => lost(e));
      }, 1000);
      this.#retry.unref();
    };
    client.on("error", lost);
    client.on("end", () => lost(new Error("notification connection ended")));
    client.on("notification", (msg) => {
      if (msg.channel === TRAFFIC_CHANNEL && msg.payload !== undefined) this.#receive(msg.payload);
    });
    this.#listener = client;
    await client.connect();
    await client.query(`LISTEN ${TRAFFIC_CHANNEL}`);
  }

  /** One line a minute at most while the database is away. */
  #warn(msg: string, err: unknown): void {
    if (Date.now() - this.#warnedAt < 60_000) return;
    this.#warnedAt = Date.now();
    this.#logger.warn(msg, { err });
  }
}

function compact(r: TrafficReport): CompactReport {
  return [
    r.loadBalancer,
    r.requests,
    r.http4xx,
    r.http5xx,
    r.surgeQueueLength,
    r.activeConnections,
    [...r.latency],
  ];
}

function expand(reports: unknown): unknown[] {
  if (!Array.isArray(reports)) return [];
  return reports.map((c) => {
    if (!Array.isArray(c)) return undefined;
    const [loadBalancer, requests, http4xx, http5xx, surgeQueueLength, activeConnections, latency] =
      c as unknown[];
    return { loadBalancer, requests, http4xx, http5xx, surgeQueueLength, activeConnections, latency };
  });
}

/** The traffic history for a store: relayed among replicas on PostgreSQL, this process's alone otherwise. */
export async function trafficHistoryFor(
  store: Store,
  logger: Logger,
): Promise<{ traffic: TrafficHistory; metrics?: MetricFamilies; close: () => Promise<void> }> {
  if (!(store instanceof PostgresStore))
    return { traffic: new TrafficHistory(), close: async () => undefined };
  const relayed = new RelayedTrafficHistory(store.connectionString, store.schema, logger);
  try {
    await relayed.start();
  } catch (e) {
    await relayed.close();
    throw e;
  }
  return { traffic: relayed, metrics: relayed, close: () => relayed.close() };
}
