/**
 * What load balancers have been doing lately: a ring buffer per load balancer of 5-second
 * intervals over the last 15 minutes, filled from the agents' status reports and read by the
 * admin API. In memory only (observations, not state: nothing here is journaled, and a restart
 * starts it empty); bounded: 180 intervals of 20 32-bit numbers (14 KiB) per load balancer that
 * carried traffic in the last 15 minutes — an idle one costs nothing but its agents' last
 * figures — and agents unheard of for 15 minutes are forgotten.
 *
 * Agents report counters since they started; each report adds its difference from the same
 * agent's previous one to the interval it arrived in (a counter that went down — the agent
 * restarted, or a listener left — only sets the new baseline). Gauges are each agent's latest in
 * the interval, summed over agents.
 */
import {
  LATENCY_BOUNDS_MS,
  latencyQuantileSeconds,
  type TrafficPoint,
  type TrafficReport,
} from "../model/traffic.js";

export const INTERVAL_SECONDS = 5;
export const HISTORY_SECONDS = 15 * 60;
const SLOTS = HISTORY_SECONDS / INTERVAL_SECONDS;
const FORGET_MS = HISTORY_SECONDS * 1000;
const PRUNE_EVERY_MS = 60_000;

/** One interval's numbers, at `slot * FIELDS` in a series' array. */
const T = 0;
const REQUESTS = 1;
const HTTP_4XX = 2;
const HTTP_5XX = 3;
const SURGE = 4;
const ACTIVE = 5;
const LATENCY = 6;
const FIELDS = LATENCY + LATENCY_BOUNDS_MS.length + 1;

interface Series {
  /** SLOTS intervals of FIELDS numbers; an interval whose T is not its own is empty. */
  readonly data: Uint32Array;
  /** Each agent's gauges as added to the interval `t` (replaced by its next report there). */
  readonly gauges: Map<string, { t: number; surge: number; active: number }>;
  /** The last report with any traffic (a series idle for the whole history is dropped). */
  activeMs: number;
}

interface AgentSample {
  atMs: number;
  readonly byLoadBalancer: Map<string, TrafficReport>;
}

export class TrafficHistory {
  readonly #series = new Map<string, Series>();
  readonly #agents = new Map<string, AgentSample>();
  #prunedMs = 0;

  /** Takes one status report's traffic figures from `agentId`, serving `region`, received at `nowMs`. */
  record(agentId: string, region: string, reports: readonly TrafficReport[], nowMs = Date.now()): void {
    const t = Math.floor(nowMs / 1000 / INTERVAL_SECONDS) * INTERVAL_SECONDS;
    let sample = this.#agents.get(agentId);
    if (sample === undefined) {
      sample = { atMs: nowMs, byLoadBalancer: new Map() };
      this.#agents.set(agentId, sample);
    }
    const seen = new Map<string, TrafficReport>();
    for (const r of reports) {
      seen.set(r.loadBalancer, r);
      // The first report of a load balancer from an agent: its counters span an unknown time
      // (the control plane may have restarted), so it only sets the baseline.
      const prev = sample.byLoadBalancer.get(r.loadBalancer);
      if (prev === undefined) continue;
      const requests = delta(r.requests, prev.requests);
      const busy = requests > 0 || r.surgeQueueLength > 0 || r.activeConnections > 0;
      const key = `${region}/${r.loadBalancer}`;
      let series = this.#series.get(key);
      if (series === undefined) {
        if (!busy) continue;
        series = { data: new Uint32Array(SLOTS * FIELDS), gauges: new Map(), activeMs: nowMs };
        this.#series.set(key, series);
      }
      if (busy) series.activeMs = nowMs;
      const at = slotAt(series, t);
      const d = series.data;
      d[at + REQUESTS] = (d[at + REQUESTS] as number) + requests;
      d[at + HTTP_4XX] = (d[at + HTTP_4XX] as number) + delta(r.http4xx, prev.http4xx);
      d[at + HTTP_5XX] = (d[at + HTTP_5XX] as number) + delta(r.http5xx, prev.http5xx);
      for (let i = 0; i <= LATENCY_BOUNDS_MS.length; i++)
        d[at + LATENCY + i] =
          (d[at + LATENCY + i] as number) + delta(r.latency[i] ?? 0, prev.latency[i] ?? 0);
      // Gauges: this agent's latest in the interval, so its earlier value there is taken back.
      const g = series.gauges.get(agentId);
      if (g !== undefined && g.t === t) {
        d[at + SURGE] = Math.max(0, (d[at + SURGE] as number) - g.surge);
        d[at + ACTIVE] = Math.max(0, (d[at + ACTIVE] as number) - g.active);
      }
      d[at + SURGE] = (d[at + SURGE] as number) + r.surgeQueueLength;
      d[at + ACTIVE] = (d[at + ACTIVE] as number) + r.activeConnections;
      series.gauges.set(agentId, { t, surge: r.surgeQueueLength, active: r.activeConnections });
    }
    sample.atMs = nowMs;
    sample.byLoadBalancer.clear();
    for (const [k, v] of seen) sample.byLoadBalancer.set(k, v);
    if (nowMs - this.#prunedMs >= PRUNE_EVERY_MS) this.#prune(nowMs);
  }

  /**
   * The finished intervals of the last `seconds` of load balancer `name` in `region`, oldest
   * first; intervals no agent reported in are left out, and a load balancer without traffic in
   * the last 15 minutes has none.
   */
  points(region: string, name: string, seconds: number, nowMs = Date.now()): TrafficPoint[] {
    const series = this.#series.get(`${region}/${name}`);
    if (series === undefined) return [];
    const current = Math.floor(nowMs / 1000 / INTERVAL_SECONDS) * INTERVAL_SECONDS;
    const from = current - Math.min(seconds, HISTORY_SECONDS);
    const out: TrafficPoint[] = [];
    const d = series.data;
    for (let at = 0; at < d.length; at += FIELDS) {
      const t = d[at + T] as number;
      if (t === 0 || t < from || t >= current) continue;
      const latency = d.subarray(at + LATENCY, at + FIELDS);
      out.push({
        t,
        requestsPerSecond: (d[at + REQUESTS] as number) / INTERVAL_SECONDS,
        latencyP50Seconds: latencyQuantileSeconds(latency, 0.5),
        latencyP99Seconds: latencyQuantileSeconds(latency, 0.99),
        http4xxPerSecond: (d[at + HTTP_4XX] as number) / INTERVAL_SECONDS,
        http5xxPerSecond: (d[at + HTTP_5XX] as number) / INTERVAL_SECONDS,
        surgeQueueLength: d[at + SURGE] as number,
        activeConnections: d[at + ACTIVE] as number,
      });
    }
    return out.sort((a, b) => a.t - b.t);
  }

  /** Load balancers with a series now (the history's size). */
  get size(): number {
    return this.#series.size;
  }

  #prune(nowMs: number): void {
    this.#prunedMs = nowMs;
    for (const [k, s] of this.#series) if (nowMs - s.activeMs > FORGET_MS) this.#series.delete(k);
    for (const [k, a] of this.#agents) if (nowMs - a.atMs > FORGET_MS) this.#agents.delete(k);
  }
}

/** The offset of interval `t` in the series, emptied first if it held an older interval. */
function slotAt(series: Series, t: number): number {
  const at = ((t / INTERVAL_SECONDS) % SLOTS) * FIELDS;
  if (series.data[at + T] !== t) {
    series.data.fill(0, at, at + FIELDS);
    series.data[at + T] = t;
  }
  return at;
}

/**
 * How much a counter grew. One that went down was reset — the agent restarted, or a listener left
 * and took its counts with it — and only sets the new baseline: counting its whole value again
 * would draw a spike that never happened.
 */
function delta(now: number, before: number): number {
  return now < before ? 0 : now - before;
}
