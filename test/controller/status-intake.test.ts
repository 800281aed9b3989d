/**
 * The control plane's side of partial status reports, on a real SQLite store: a partial report is
 * applied onto the base it names and the stored status is the whole merged one; a partial report
 * with no matching base (a restart, another replica, an old number) is answered "send full" and
 * changes nothing; a status that changed nothing stored is written again only after
 * STORE_REFRESH_MS; DNS records are left out of the acknowledgement while the agent has them; and
 * a report from an agent of the earlier version (no header) is taken whole, as ever.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { STORE_REFRESH_MS, StatusIntake } from "../../src/controller/status-intake.js";
import type { AgentStatus, NodeReport, StatusReportHeader } from "../../src/model/agent-protocol.js";
import { LATENCY_BOUNDS_MS, type TrafficReport } from "../../src/model/traffic.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { TrafficHistory } from "../../src/store/traffic-history.js";
import { aLoadBalancer, meta } from "../support/builders.js";

const ZONE = "us-east-1a";
const node = (lb: string, address: string, routable = 1): NodeReport => ({
  loadBalancer: lb,
  address,
  routableInService: routable,
  listeners: [{ port: 80, protocol: "HTTP", bound: true }],
});
const traffic = (lb: string, requests: number): TrafficReport => ({
  loadBalancer: lb,
  requests,
  http4xx: 0,
  http5xx: 0,
  latency: [requests, ...new Array(LATENCY_BOUNDS_MS.length).fill(0)],
  surgeQueueLength: 0,
  activeConnections: 0,
});
const report = (
  agentId: string,
  nodes: NodeReport[],
  header?: StatusReportHeader,
  ts: TrafficReport[] = [],
): AgentStatus => ({
  agentId,
  zone: ZONE,
  configRevision: 3,
  nodes,
  health: [],
  unexplained: [],
  traffic: ts,
  time: new Date().toISOString(),
  ...(header === undefined ? {} : { report: header }),
});
const noneGone = { nodes: [], health: [], traffic: [] };
const metric = (intake: StatusIntake, line: string): number => {
  const found = intake.metricLines().find((l) => l.startsWith(`${line} `));
  assert.ok(found, `no metric ${line}`);
  return Number(found.split(" ").pop());
};

describe("status intake: partial reports on the control plane", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-status-intake-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  const history = new TrafficHistory();
  const intake = new StatusIntake({ store, traffic: history });
  const stored = async (agentId: string) => (await store.agentStatuses()).find((s) => s.agentId === agentId);

  before(async () => {
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (const name of ["web", "api", "new", "dns"])
        tx.put(
          "loadBalancer",
          name,
          aLoadBalancer({ name, availabilityZones: [ZONE], instances: ["10.9.0.1"] }),
        );
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies a partial report onto its base and stores the whole merged status", async () => {
    const t0 = Date.now();
    const full = report("a1", [node("web", "127.1.0.1"), node("api", "127.1.0.2")], { seq: 100 }, [
      traffic("web", 5),
      traffic("api", 7),
    ]);
    const ack1 = await intake.receive(full, true, t0);
    assert.equal(ack1?.accepted, 100);
    assert.ok(ack1?.dns !== undefined && ack1.dns.length === 2);
    const partial = report(
      "a1",
      [node("api", "127.1.0.2", 0), node("new", "127.1.0.3")],
      { seq: 101, base: 100, gone: { nodes: ["web\u0000127.1.0.1"], health: [], traffic: [] } },
      [traffic("api", 17)],
    );
    const ack2 = await intake.receive(partial, true, t0 + 1000);
    assert.equal(ack2?.accepted, 101);
    const s = await stored("a1");
    assert.ok(s);
    assert.deepEqual(
      [...s.nodes].sort((a, b) => a.loadBalancer.localeCompare(b.loadBalancer)),
      [node("api", "127.1.0.2", 0), node("new", "127.1.0.3")],
    );
    assert.equal(s.report, undefined, "the header is never stored");
    assert.equal(s.traffic, undefined, "traffic stays out of the store");
    assert.equal(metric(intake, 'ballast_agent_status_reports_total{kind="partial"}'), 1);
    // api's counter moved from 7 to 17 in the partial report; a later partial report that leaves
    // api's unchanged figure out keeps it as the baseline, so the next move (17 to 20) counts 3.
    await intake.receive(report("a1", [], { seq: 102, base: 101, gone: noneGone }), false, t0 + 2000);
    await intake.receive(
      report("a1", [], { seq: 103, base: 102, gone: noneGone }, [traffic("api", 20)]),
      false,
      t0 + 3000,
    );
    const requests = history
      .points("us-east-1", "api", 60, t0 + 20_000)
      .reduce((sum, p) => sum + p.requestsPerSecond * 5, 0);
    assert.equal(requests, 13);
  });

  it("answers 'send full' to a partial report whose base it does not hold, and changes nothing", async () => {
    const before = await stored("a1");
    const resend = await intake.receive(report("a1", [], { seq: 500, base: 400, gone: noneGone }), true);
    assert.deepEqual(resend, { resend: "full" });
    const fresh = new StatusIntake({ store });
    assert.deepEqual(
      await fresh.receive(report("a1", [], { seq: 104, base: 103, gone: noneGone }), true),
      { resend: "full" },
      "a restarted control plane (or another replica) holds no base",
    );
    assert.deepEqual(await stored("a1"), before);
    assert.equal(metric(intake, "ballast_agent_status_resends_total"), 1);
  });

  it("writes a status that changed nothing stored only once STORE_REFRESH_MS passed", async () => {
    const t0 = Date.now();
    await intake.receive(report("a2", [node("web", "127.1.0.9")], { seq: 1 }), false, t0);
    const written = metric(intake, 'ballast_agent_status_writes_total{outcome="written"}');
    const skipped = metric(intake, 'ballast_agent_status_writes_total{outcome="skipped"}');
    const first = (await stored("a2"))?.time;
    await intake.receive(report("a2", [], { seq: 2, base: 1, gone: noneGone }), false, t0 + 1000);
    assert.equal(metric(intake, 'ballast_agent_status_writes_total{outcome="written"}'), written);
    assert.equal(metric(intake, 'ballast_agent_status_writes_total{outcome="skipped"}'), skipped + 1);
    assert.equal((await stored("a2"))?.time, first);
    // A change is written at once.
    await intake.receive(
      report("a2", [node("web", "127.1.0.9", 0)], { seq: 3, base: 2, gone: noneGone }),
      false,
      t0 + 2000,
    );
    assert.equal(metric(intake, 'ballast_agent_status_writes_total{outcome="written"}'), written + 1);
    assert.equal((await stored("a2"))?.nodes[0]?.routableInService, 0);
    // Nothing changed, but the stored one is STORE_REFRESH_MS old: written, with a fresh time.
    const later = report("a2", [], { seq: 4, base: 3, gone: noneGone });
    await intake.receive(later, false, t0 + 2000 + STORE_REFRESH_MS);
    assert.equal(metric(intake, 'ballast_agent_status_writes_total{outcome="written"}'), written + 2);
    assert.equal((await stored("a2"))?.time, later.time);
  });

  it("leaves DNS records out while the agent has them, and sends them when they change", async () => {
    const t0 = Date.now();
    const first = await intake.receive(report("a3", [node("dns", "127.1.0.20")], { seq: 1 }), true, t0);
    const tag = first?.dnsTag;
    assert.ok(tag !== undefined && first?.dns !== undefined);
    const same = await intake.receive(
      report("a3", [], { seq: 2, base: 1, gone: noneGone, dnsTag: tag }),
      true,
      t0 + 1000,
    );
    assert.equal(same?.dns, undefined);
    assert.equal(same?.dnsTag, tag);
    // Another agent's node of dns appears: dns's record gains an address.
    await intake.receive(report("a4", [node("dns", "127.1.0.21")], { seq: 1 }), false, t0 + 1500);
    const moved = await intake.receive(
      report("a3", [], { seq: 3, base: 2, gone: noneGone, dnsTag: tag }),
      true,
      t0 + 2000,
    );
    assert.notEqual(moved?.dnsTag, tag);
    const dns = moved?.dns?.find((r) => r.name.startsWith("dns"));
    assert.deepEqual([...(dns?.addresses ?? [])].sort(), ["127.1.0.20", "127.1.0.21"]);
    assert.ok(metric(intake, 'ballast_agent_status_dns_answers_total{outcome="kept"}') >= 1);
  });

  it("takes a report of the earlier version (no header) whole, answering records and no base", async () => {
    const ack = await intake.receive(report("old", [node("web", "127.1.0.30")]), true);
    assert.equal(ack?.accepted, undefined);
    assert.ok(ack?.dns?.some((r) => r.name.startsWith("web")));
    assert.deepEqual((await stored("old"))?.nodes, [node("web", "127.1.0.30")]);
  });
});
