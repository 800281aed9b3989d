/** The load balancers' traffic history: rates from counters, quantiles, gauges, and its bounds. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LATENCY_BOUNDS_MS,
  latencyQuantileSeconds,
  parseTrafficReports,
  type TrafficReport,
} from "../../src/model/traffic.js";
import { HISTORY_SECONDS, INTERVAL_SECONDS, TrafficHistory } from "../../src/store/traffic-history.js";

const EMPTY = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
/** 2026-12-05T10:00:00Z: the start of an interval. */
const T0 = Date.UTC(2026, 11, 5, 10, 0, 0);

function report(lb: string, requests: number, opts: Partial<TrafficReport> = {}): TrafficReport {
  return {
    loadBalancer: lb,
    requests,
    http4xx: 0,
    http5xx: 0,
    latency: EMPTY,
    surgeQueueLength: 0,
    activeConnections: 0,
    ...opts,
  };
}

/** A histogram with `n` observations in the bucket whose upper bound is `ms`. */
function latencyAt(ms: number, n: number): number[] {
  const h = [...EMPTY];
  h[LATENCY_BOUNDS_MS.indexOf(ms)] = n;
  return h;
}

describe("traffic history", () => {
  it("is empty before any agent reported", () => {
    assert.deepEqual(new TrafficHistory().points("us-east-1", "web", 300, T0), []);
  });

  it("turns two agents' counters into per-second rates per 5-second interval, finished intervals only", () => {
    const h = new TrafficHistory();
    h.record("a", "us-east-1", [report("web", 100)], T0 + 100);
    h.record("b", "us-east-1", [report("web", 7)], T0 + 200);
    // Interval [T0, T0+5s): agent a served 50 more, b 10 more, with 5 4XX and 2 5XX.
    h.record("a", "us-east-1", [report("web", 150, { http4xx: 5, activeConnections: 3 })], T0 + 2000);
    h.record(
      "b",
      "us-east-1",
      [report("web", 17, { http5xx: 2, surgeQueueLength: 4, activeConnections: 1 })],
      T0 + 3000,
    );
    assert.deepEqual(
      h.points("us-east-1", "web", 300, T0 + 4000),
      [],
      "the current interval is not finished",
    );
    // Agent a again in the same interval: no new requests, 5 connections now (its gauge is replaced).
    h.record("a", "us-east-1", [report("web", 150, { http4xx: 5, activeConnections: 5 })], T0 + 4500);
    const [p, ...rest] = h.points("us-east-1", "web", 300, T0 + 5000);
    assert.equal(rest.length, 0);
    assert.deepEqual(p, {
      t: T0 / 1000,
      requestsPerSecond: 60 / INTERVAL_SECONDS,
      latencyP50Seconds: 0,
      latencyP99Seconds: 0,
      http4xxPerSecond: 1,
      http5xxPerSecond: 2 / INTERVAL_SECONDS,
      surgeQueueLength: 4,
      activeConnections: 6,
    });
  });

  it("a counter that goes down (agent restarted, listener removed) sets a new baseline, not a spike", () => {
    const h = new TrafficHistory();
    h.record("a", "us-east-1", [report("web", 1000)], T0);
    h.record("a", "us-east-1", [report("web", 1010)], T0 + 1000);
    h.record("a", "us-east-1", [report("web", 15)], T0 + 2000);
    h.record("a", "us-east-1", [report("web", 20)], T0 + 3000);
    assert.equal(h.points("us-east-1", "web", 300, T0 + 5000)[0]?.requestsPerSecond, 15 / INTERVAL_SECONDS);
  });

  it("latency quantiles come from the interval's histogram, not the agent's lifetime", () => {
    const h = new TrafficHistory();
    h.record("a", "us-east-1", [report("web", 0, { latency: latencyAt(1000, 50) })], T0);
    // In the next interval, 99 fast requests (≤ 5 ms) and one slow one (≤ 2.5 s).
    const later = latencyAt(1000, 50);
    later[LATENCY_BOUNDS_MS.indexOf(5)] = 99;
    later[LATENCY_BOUNDS_MS.indexOf(2500)] = 1;
    h.record("a", "us-east-1", [report("web", 100, { latency: later })], T0 + 6000);
    const p = h.points("us-east-1", "web", 300, T0 + 10_000).at(-1);
    assert.ok(p !== undefined);
    assert.ok(p.latencyP50Seconds > 0.0025 && p.latencyP50Seconds <= 0.005, `p50 ${p.latencyP50Seconds}`);
    assert.ok(p.latencyP99Seconds > 0.0025 && p.latencyP99Seconds <= 0.005, `p99 ${p.latencyP99Seconds}`);
    assert.equal(latencyQuantileSeconds(later, 1), 2.5);
  });

  it("keeps load balancers of different regions apart, and answers only the window asked for", () => {
    const h = new TrafficHistory();
    for (let i = 0; i <= 60; i++) {
      h.record("a", "us-east-1", [report("web", i * 10)], T0 + i * 5000);
      h.record("w", "eu-west-1", [report("web", i)], T0 + i * 5000);
    }
    const now = T0 + 61 * 5000;
    const east = h.points("us-east-1", "web", 60, now);
    assert.equal(east.length, 60 / INTERVAL_SECONDS);
    assert.ok(east.every((p) => p.requestsPerSecond === 2));
    assert.deepEqual(
      east.map((p) => p.t),
      [...east.map((p) => p.t)].sort((a, b) => a - b),
      "oldest first",
    );
    assert.ok(h.points("eu-west-1", "web", 60, now).every((p) => p.requestsPerSecond === 0.2));
  });

  it("is bounded: 15 minutes of intervals per load balancer, forgotten after 15 idle minutes", () => {
    const h = new TrafficHistory();
    for (let i = 0; i <= 400; i++) h.record("a", "us-east-1", [report("web", i)], T0 + i * 5000);
    const points = h.points("us-east-1", "web", 100_000, T0 + 401 * 5000);
    assert.equal(points.length, HISTORY_SECONDS / INTERVAL_SECONDS);
    assert.equal(h.size, 1);
    // Idle from here on: its agent keeps reporting the same counters.
    const idleFrom = T0 + 401 * 5000;
    for (let s = 0; s <= HISTORY_SECONDS + 60; s += 5)
      h.record("a", "us-east-1", [report("web", 400)], idleFrom + s * 1000);
    assert.equal(h.size, 0, "web was forgotten");
    assert.deepEqual(h.points("us-east-1", "web", 300, idleFrom + (HISTORY_SECONDS + 60) * 1000), []);
  });

  it("a load balancer that never carried traffic costs no series", () => {
    const h = new TrafficHistory();
    for (let s = 0; s < 60; s += 1) h.record("a", "us-east-1", [report("idle", 0)], T0 + s * 1000);
    assert.equal(h.size, 0);
    assert.deepEqual(h.points("us-east-1", "idle", 300, T0 + 60_000), []);
  });

  it("takes only well-formed reports from an agent", () => {
    const good = report("web", 3);
    const parsed = parseTrafficReports([
      good,
      { ...good, requests: -1 },
      { ...good, latency: [1, 2] },
      { ...good, loadBalancer: 7 },
      "nonsense",
      null,
    ]);
    assert.deepEqual(parsed, [good]);
    assert.deepEqual(parseTrafficReports({ not: "an array" }), []);
  });
});
