/**
 * The agent's change tracking for status reports: the first report is full; once the control
 * plane acknowledges one, the next carry only the nodes, health entries and traffic figures that
 * differ from it (and the keys of those gone), and applied onto it they give back the agent's
 * whole status. A full report goes again after a failure, a "send full", another endpoint, the
 * periodic interval, and always to a control plane that acknowledges no report (an earlier version).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StatusReports } from "../../src/agent/status-reports.js";
import type { AgentStatus, InstanceHealthReport, NodeReport } from "../../src/model/agent-protocol.js";
import { mergeStatus } from "../../src/model/status-delta.js";
import { LATENCY_BOUNDS_MS, type TrafficReport } from "../../src/model/traffic.js";

const A = "https://cp-a:8443";
const B = "https://cp-b:8443";

function node(lb: string, i: number, routable = 1): NodeReport {
  return {
    loadBalancer: lb,
    address: `127.1.0.${i}`,
    routableInService: routable,
    listeners: [{ port: 80, protocol: "HTTP", bound: true }],
  };
}
function health(lb: string, state: InstanceHealthReport["state"] = "InService"): InstanceHealthReport {
  return { loadBalancer: lb, instanceId: "10.0.0.1", state, reasonCode: "N/A", description: "N/A" };
}
function traffic(lb: string, requests: number): TrafficReport {
  return {
    loadBalancer: lb,
    requests,
    http4xx: 0,
    http5xx: 0,
    latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0),
    surgeQueueLength: 0,
    activeConnections: 0,
  };
}
function status(nodes: NodeReport[], hs: InstanceHealthReport[], ts: TrafficReport[]): AgentStatus {
  return {
    agentId: "agent-1",
    zone: "us-east-1a",
    configRevision: 7,
    nodes,
    health: hs,
    unexplained: [],
    traffic: ts,
    time: "2026-12-05T00:00:00.000Z",
  };
}
const names = Array.from({ length: 50 }, (_, i) => `lb-${i}`);
const whole = (): AgentStatus =>
  status(
    names.map((n, i) => node(n, i + 1)),
    names.map((n) => health(n)),
    names.map((n) => traffic(n, 10)),
  );

describe("status reports: change tracking on the agent", () => {
  it("sends a full report first, then only what changed since the acknowledged one", () => {
    const reports = new StatusReports(30_000, 1_000_000);
    const first = reports.next(whole(), A, 0);
    assert.equal(first.report?.base, undefined);
    assert.equal(first.nodes.length, 50);
    const seq = first.report?.seq ?? -1;
    assert.ok(seq > 1_000_000, "numbers start from the clock, never reused by a restarted agent");
    reports.acknowledged({ dns: [], dnsTag: "t1", accepted: seq });

    // lb-3's back end fails, lb-4 carries traffic, lb-5 leaves, lb-new arrives.
    const now = whole();
    const changed = status(
      [
        ...now.nodes
          .filter((n) => n.loadBalancer !== "lb-5")
          .map((n) => (n.loadBalancer === "lb-3" ? { ...n, routableInService: 0 } : n)),
        node("lb-new", 99),
      ],
      [
        ...now.health
          .filter((h) => h.loadBalancer !== "lb-5")
          .map((h) => (h.loadBalancer === "lb-3" ? health("lb-3", "OutOfService") : h)),
        health("lb-new"),
      ],
      [
        ...(now.traffic ?? [])
          .filter((t) => t.loadBalancer !== "lb-5")
          .map((t) => (t.loadBalancer === "lb-4" ? traffic("lb-4", 25) : t)),
        traffic("lb-new", 0),
      ],
    );
    const partial = reports.next(changed, A, 1000);
    assert.equal(partial.report?.base, seq);
    assert.equal(partial.report?.seq, seq + 1);
    assert.equal(partial.report?.dnsTag, "t1");
    assert.deepEqual(partial.nodes.map((n) => n.loadBalancer).sort(), ["lb-3", "lb-new"]);
    assert.deepEqual(partial.health.map((h) => h.loadBalancer).sort(), ["lb-3", "lb-new"]);
    assert.deepEqual((partial.traffic ?? []).map((t) => t.loadBalancer).sort(), ["lb-4", "lb-new"]);
    assert.deepEqual(partial.report?.gone, {
      nodes: ["lb-5\u0000127.1.0.6"],
      health: ["lb-5\u000010.0.0.1"],
      traffic: ["lb-5"],
    });
    assert.ok(JSON.stringify(partial).length * 5 < JSON.stringify(changed).length);

    // Applied onto the full report it names, it gives back the whole status.
    const merged = mergeStatus(first, partial);
    assert.equal(merged.changed, true);
    const byKey = <T>(xs: readonly T[], k: (x: T) => string) =>
      [...xs].sort((a, b) => k(a).localeCompare(k(b)));
    assert.deepEqual(
      byKey(merged.status.nodes, (n) => n.loadBalancer),
      byKey(changed.nodes, (n) => n.loadBalancer),
    );
    assert.deepEqual(
      byKey(merged.status.health, (h) => h.loadBalancer),
      byKey(changed.health, (h) => h.loadBalancer),
    );
    assert.deepEqual(
      byKey(merged.status.traffic ?? [], (t) => t.loadBalancer),
      byKey(changed.traffic ?? [], (t) => t.loadBalancer),
    );
    assert.equal(merged.status.report, undefined, "the merged status is a whole one, no header");
  });

  it("compares every field: a field only one of two reports has (a last failure) is a change", () => {
    const reports = new StatusReports(30_000, 0);
    const first = reports.next(whole(), A, 0);
    reports.acknowledged({ dns: [], accepted: first.report?.seq ?? -1 });
    const now = whole();
    const failed = {
      ...health("lb-9", "InService"),
      lastFailure: { kind: "timeout" as const, detail: "L4TOUT", at: "2026-12-05T00:00:01.000Z" },
    };
    const next = reports.next(
      { ...now, health: now.health.map((h) => (h.loadBalancer === "lb-9" ? failed : h)) },
      A,
      1000,
    );
    assert.deepEqual(next.health, [failed]);
    assert.deepEqual(next.nodes, []);
  });

  it("an unchanged status gives an empty partial report, which changes nothing stored", () => {
    const reports = new StatusReports(30_000, 0);
    const first = reports.next(whole(), A, 0);
    reports.acknowledged({ dns: [], accepted: first.report?.seq ?? -1 });
    const partial = reports.next(whole(), A, 1000);
    assert.equal(partial.nodes.length + partial.health.length + (partial.traffic ?? []).length, 0);
    assert.equal(mergeStatus(first, partial).changed, false);
  });

  it("goes back to a full report after a failure, a request for one, another endpoint, or the period", () => {
    const reports = new StatusReports(30_000, 0);
    const ackNext = (endpoint: string, at: number): AgentStatus => {
      const r = reports.next(whole(), endpoint, at);
      reports.acknowledged({ dns: [], accepted: r.report?.seq ?? -1 });
      return r;
    };
    ackNext(A, 0);
    assert.notEqual(reports.next(whole(), A, 1000).report?.base, undefined);
    reports.failed();
    assert.equal(reports.next(whole(), A, 2000).report?.base, undefined, "after a failure");
    reports.acknowledged({ dns: [], accepted: -1 });
    assert.ok(reports.wantsFull);
    ackNext(A, 3000);
    reports.next(whole(), A, 4000);
    reports.acknowledged({ resend: "full" });
    assert.equal(reports.next(whole(), A, 5000).report?.base, undefined, "after 'send full'");
    reports.acknowledged({ accepted: -1 });
    ackNext(A, 6000);
    assert.equal(reports.next(whole(), B, 7000).report?.base, undefined, "to another replica");
    reports.acknowledged({ accepted: -1 });
    ackNext(A, 8000);
    assert.notEqual(reports.next(whole(), A, 37_999).report?.base, undefined);
    reports.acknowledged({ accepted: -1 });
    ackNext(A, 38_000);
    assert.equal(reports.next(whole(), A, 68_000).report?.base, undefined, "every 30 s");
    assert.equal(reports.counts.partial, 3);
  });

  it("sends only full reports to a control plane that acknowledges none (an earlier version)", () => {
    const reports = new StatusReports(30_000, 0);
    for (let i = 0; i < 5; i++) {
      const r = reports.next(whole(), A, i * 1000);
      assert.equal(r.report?.base, undefined);
      assert.equal(r.nodes.length, 50);
      // An earlier control plane answers 204 (no ack) or an ack with records only.
      reports.acknowledged(i % 2 === 0 ? undefined : { dns: [] });
    }
    assert.deepEqual(reports.counts, { full: 5, partial: 0 });
  });
});
