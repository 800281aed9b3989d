import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { renderMetrics } from "../../src/controller/metrics.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { promtoolCheckMetrics } from "../support/promtool.js";

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("control-plane metrics", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-cp-metrics-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports propagation lag per agent in revisions and in seconds since the first revision it lacks", async () => {
    const first = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", "a", aLoadBalancer({ name: "a" }));
    });
    const second = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", "b", aLoadBalancer({ name: "b" }));
    });
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", "c", aLoadBalancer({ name: "c" }));
    });
    const head = await store.head();
    const firstRevision = first.revision?.number ?? 0;
    const secondTime = Date.parse(second.revision?.time ?? "");
    assert.ok(firstRevision > 0 && Number.isFinite(secondTime));
    const status = (agentId: string, zone: string, configRevision: number) => ({
      agentId,
      zone,
      configRevision,
      nodes: [],
      health: [],
      unexplained: [],
      time: new Date().toISOString(),
    });
    await store.putAgentStatus(status("behind", "us-east-1a", firstRevision));
    await store.putAgentStatus(status("current", "us-east-1b", head));
    const now = secondTime + 7_500;
    const text = await renderMetrics(
      store,
      { stateVerified: true, stateRepairs: 0, guardHolds: [{ zone: "us-east-1a", removedLoadBalancers: 2 }] },
      now,
    );
    const behind = 'agent="behind",zone="us-east-1a"';
    const current = 'agent="current",zone="us-east-1b"';
    assert.equal(value(text, `ballast_agent_config_lag_revisions{${behind}}`), head - firstRevision);
    assert.equal(value(text, `ballast_agent_config_lag_seconds{${behind}}`), 7.5);
    assert.equal(value(text, `ballast_agent_config_lag_revisions{${current}}`), 0);
    assert.equal(value(text, `ballast_agent_config_lag_seconds{${current}}`), 0);
    assert.equal(value(text, "ballast_journal_head_revision"), head);
    assert.equal(value(text, 'ballast_alarms_active{alarm="guard-hold"}'), 1);
    assert.equal(value(text, "ballast_guard_holds"), 1);
    assert.equal(value(text, 'ballast_guard_held_load_balancer_removals{zone="us-east-1a"}'), 2);
    assert.equal(value(text, 'ballast_agents{state="connected"}'), 2);
    // Thirty seconds without a report: stale.
    const later = await renderMetrics(store, undefined, Date.now() + 31_000);
    assert.equal(value(later, 'ballast_agents{state="stale"}'), 2);
    assert.equal(value(later, `ballast_agent_up{${current}}`), 0);
    assert.equal((await promtoolCheckMetrics(text)).output, "");
  });
});
