/**
 * What load balancers have been doing lately: a ring buffer per load balancer of 5-second
 * intervals over the last 15 minutes, filled from the agents' status reports and read by the
 * admin API. In memory only (observations, not state: nothing here is journaled, and a restart
 * starts it empty); bounded: 180 intervals per load balancer, and load balancers and agents
 * unheard of for 15 minutes are forgotten.
 *
 * Agents report counters since they started; each report adds its difference from the same
 * agent's previous one to the interval it arrived in (a counter that went down means the agent
 * restarted: the new value is the difference). Gauges are each agent's latest in the interval,
 * summed over agents.
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

interface Slot {
  /** Start of the interval, epoch seconds. */
  t: number;
  requests: number;
  http4xx: number;
  http5xx: number;
  readonly latency: number[];
  /** Each agent's latest gauges in this interval. */
  readonly gauges: Map<string, { surgeQueueLength: number; activeConnections: number }>;
}

interface Series {
  readonly slots: (Slot | undefined)[];
  lastMs: number;
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
      const slot = this.#slot(`${region}/${r.loadBalancer}`, t, nowMs);
      const prev = sample.byLoadBalancer.get(r.loadBalancer);
      // The first report of a load balancer from an agent: its counters span an unknown time
      // (the control plane may have restarted), so it only sets the baseline.
      if (prev !== undefined) {
        slot.requests += delta(r.requests, prev.requests);
        slot.http4xx += delta(r.http4xx, prev.http4xx);
        slot.http5xx += delta(r.http5xx, prev.http5xx);
        const restarted = r.requests < prev.requests;
        for (let i = 0; i < slot.latency.length; i++) {
          const now = r.latency[i] ?? 0;
          const before = restarted ? 0 : (prev.latency[i] ?? 0);
          slot.latency[i] = (slot.latency[i] as number) + Math.max(0, now - before);
        }
      }
      slot.gauges.set(agentId, {
        surgeQueueLength: r.surgeQueueLength,
        activeConnections: r.activeConnections,
      });
    }
    sample.atMs = nowMs;
    sample.byLoadBalancer.clear();
    for (const [k, v] of seen) sample.byLoadBalancer.set(k, v);
    if (nowMs - this.#prunedMs >= PRUNE_EVERY_MS) this.#prune(nowMs);
  }

  /**
   * The finished intervals of the last `seconds` of load balancer `name` in `region`, oldest
   * first; intervals no agent reported in are left out.
   */
  points(region: string, name: string, seconds: number, nowMs = Date.now()): TrafficPoint[] {
    const series = this.#series.get(`${region}/${name}`);
    if (series === undefined) return [];
    const current = Math.floor(nowMs / 1000 / INTERVAL_SECONDS) * INTERVAL_SECONDS;
    const from = current - Math.min(seconds, HISTORY_SECONDS);
    const out: TrafficPoint[] = [];
    for (const slot of series.slots) {
      if (slot === undefined || slot.t < from || slot.t >= current) continue;
      let surgeQueueLength = 0;
      let activeConnections = 0;
      for (const g of slot.gauges.values()) {
        surgeQueueLength += g.surgeQueueLength;
        activeConnections += g.activeConnections;
      }
      out.push({
        t: slot.t,
        requestsPerSecond: slot.requests / INTERVAL_SECONDS,
        latencyP50Seconds: latencyQuantileSeconds(slot.latency, 0.5),
        latencyP99Seconds: latencyQuantileSeconds(slot.latency, 0.99),
        http4xxPerSecond: slot.http4xx / INTERVAL_SECONDS,
        http5xxPerSecond: slot.http5xx / INTERVAL_SECONDS,
        surgeQueueLength,
        activeConnections,
      });
    }
    return out.sort((a, b) => a.t - b.t);
  }

  /** Load balancers with a series now (for tests and metrics of the history's own size). */
  get size(): number {
    return this.#series.size;
  }

  #slot(key: string, t: number, nowMs: number): Slot {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { slots: new Array<Slot | undefined>(SLOTS).fill(undefined), lastMs: nowMs };
      this.#series.set(key, series);
    }
    series.lastMs = nowMs;
    const i = (t / INTERVAL_SECONDS) % SLOTS;
    let slot = series.slots[i];
    if (slot === undefined || slot.t !== t) {
      slot = {
        t,
        requests: 0,
        http4xx: 0,
        http5xx: 0,
        latency: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0),
        gauges: new Map(),
      };
      series.slots[i] = slot;
    }
    return slot;
  }

  #prune(nowMs: number): void {
    this.#prunedMs = nowMs;
    for (const [k, s] of this.#series) if (nowMs - s.lastMs > FORGET_MS) this.#series.delete(k);
    for (const [k, a] of this.#agents) if (nowMs - a.atMs > FORGET_MS) this.#agents.delete(k);
  }
}

function delta(now: number, before: number): number {
  return now < before ? now : now - before;
}
