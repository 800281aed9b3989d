/**
 * The traffic figures an agent reports per load balancer and the arithmetic the control plane
 * derives its time series with. Counters run from the moment the agent started serving the load
 * balancer; the control plane turns successive reports into per-interval rates. Pure.
 */

/** Upper bounds (milliseconds) of the latency histogram's buckets; a last bucket counts the rest. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
];

/** One load balancer's traffic on one agent: 6 numbers and a 14-bucket histogram, whatever the load. */
export interface TrafficReport {
  readonly loadBalancer: string;
  /** Requests (HTTP/HTTPS) or connections (TCP/SSL) received, since the agent started serving it. */
  readonly requests: number;
  /** 4XX responses, from the load balancer itself and from back ends, since start. */
  readonly http4xx: number;
  /** 5XX responses, from the load balancer itself and from back ends, since start. */
  readonly http5xx: number;
  /** Back-end latency: counts per bucket of LATENCY_BOUNDS_MS plus one for the rest, since start. */
  readonly latency: readonly number[];
  /** Requests waiting for a back-end connection now. */
  readonly surgeQueueLength: number;
  /** Client connections open now. */
  readonly activeConnections: number;
}

/** One point of a load balancer's time series, over one interval, summed over its agents. */
export interface TrafficPoint {
  /** The interval's start, epoch seconds. */
  readonly t: number;
  readonly requestsPerSecond: number;
  /** 0 when the interval had no request. */
  readonly latencyP50Seconds: number;
  readonly latencyP99Seconds: number;
  readonly http4xxPerSecond: number;
  readonly http5xxPerSecond: number;
  readonly surgeQueueLength: number;
  readonly activeConnections: number;
}

/** Reports an agent may send per status report: more are dropped (a bound on memory and work). */
export const MAX_TRAFFIC_REPORTS = 1000;

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** The well-formed traffic reports of a status report; anything malformed is left out. */
export function parseTrafficReports(v: unknown): TrafficReport[] {
  if (!Array.isArray(v)) return [];
  const out: TrafficReport[] = [];
  for (const item of v.slice(0, MAX_TRAFFIC_REPORTS)) {
    if (typeof item !== "object" || item === null) continue;
    const r = item as Record<string, unknown>;
    const latency = Array.isArray(r.latency) ? r.latency.map(count) : [];
    const figures = [r.requests, r.http4xx, r.http5xx, r.surgeQueueLength, r.activeConnections].map(count);
    if (typeof r.loadBalancer !== "string" || r.loadBalancer === "") continue;
    if (latency.length !== LATENCY_BOUNDS_MS.length + 1 || latency.some((n) => n === undefined)) continue;
    const [requests, http4xx, http5xx, surgeQueueLength, activeConnections] = figures;
    if (
      requests === undefined ||
      http4xx === undefined ||
      http5xx === undefined ||
      surgeQueueLength === undefined ||
      activeConnections === undefined
    )
      continue;
    out.push({
      loadBalancer: r.loadBalancer,
      requests,
      http4xx,
      http5xx,
      latency: latency as number[],
      surgeQueueLength,
      activeConnections,
    });
  }
  return out;
}

/**
 * The `q` quantile (0..1) of a latency histogram, in seconds: linear within the bucket it falls
 * in (the first from 0, the open last one reads as its lower bound); 0 for an empty histogram.
 */
export function latencyQuantileSeconds(buckets: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i] as number;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] as number;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : (LATENCY_BOUNDS_MS[i - 1] as number);
      const upper = LATENCY_BOUNDS_MS[i];
      if (upper === undefined) return lower / 1000;
      return (lower + ((upper - lower) * (rank - seen)) / n) / 1000;
    }
    seen += n;
  }
  return (LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] as number) / 1000;
}
