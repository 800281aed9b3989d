/**
 * Status reports across versions: a control plane must accept reports from agents one version
 * behind (no failure reasons, no traffic figures) and show them; from current agents it keeps the
 * last failure for the admin view and the traffic figures in memory only, out of the store.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLoadBalancerRoutes } from "../../src/api/admin/load-balancers.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { LoadBalancerShow } from "../../src/model/load-balancer-view.js";
import { LATENCY_BOUNDS_MS } from "../../src/model/traffic.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { TrafficHistory } from "../../src/store/traffic-history.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";

const TOKEN = "agent-token-0123456789";
const ZONE = "us-east-1a";
const FAILED = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.";

describe("status reports of agents one version apart", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-status-versions-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  const traffic = new TrafficHistory();
  const channel = new AgentChannel({ store, token: TOKEN, zones: [ZONE], logger: silentLogger, traffic });
  const view = createLoadBalancerRoutes({ store, traffic });
  let base = "";

  const post = async (body: unknown): Promise<number> => {
    const res = await fetch(`${base}/agent/v1/status`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.status;
  };
  const show = async (): Promise<LoadBalancerShow> =>
    (await view(
      {
        method: "GET",
        path: "/admin/v1/load-balancers/web",
        body: Buffer.alloc(0),
        credential: { accessKeyId: "AKIDTEST", secretAccessKey: "x", principal: "tester", createdTime: "" },
        meta: { principal: "tester", sourceIp: "127.0.0.1", requestId: "r-1" },
        region: "us-east-1",
        filterRegion: undefined,
      },
      new URLSearchParams(),
    )) as LoadBalancerShow;
  const health = (lastFailure?: unknown) => ({
    loadBalancer: "web",
    instanceId: "10.9.0.1",
    state: "OutOfService",
    reasonCode: "Instance",
    description: FAILED,
    ...(lastFailure === undefined ? {} : { lastFailure }),
  });

  before(async () => {
    base = `http://127.0.0.1:${await channel.listen(0)}`;
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put(
        "loadBalancer",
        "web",
        aLoadBalancer({ name: "web", availabilityZones: [ZONE], instances: ["10.9.0.1"] }),
      );
    });
  });
  after(async () => {
    await channel.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts a report of the earlier format (no lastFailure, no traffic) and shows AWS's words without a reason", async () => {
    const old = {
      agentId: "old-agent",
      zone: ZONE,
      configVersion: 1,
      nodes: [],
      health: [health()],
      unexplained: [],
    };
    assert.equal(await post(old), 204);
    const [stored] = await store.agentStatuses();
    assert.equal(stored?.agentId, "old-agent");
    const [instance, ...others] = (await show()).instances;
    assert.equal(others.length, 0);
    assert.deepEqual(instance, {
      instanceId: "10.9.0.1",
      zone: ZONE,
      state: "OutOfService",
      reasonCode: "Instance",
      description: FAILED,
    });
    assert.equal(traffic.size, 0);
  });

  it("keeps a current agent's last failure for the view and its traffic in memory, not in the store", async () => {
    const lastFailure = { kind: "status", detail: "L7STS/404", status: 404, at: new Date().toISOString() };
    const report = {
      agentId: "new-agent",
      zone: ZONE,
      configRevision: 1,
      nodes: [],
      health: [health(lastFailure)],
      unexplained: [],
      traffic: [
        {
          loadBalancer: "web",
          requests: 12,
          http4xx: 0,
          http5xx: 0,
          latency: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0),
          surgeQueueLength: 0,
          activeConnections: 1,
        },
      ],
    };
    assert.equal(await post(report), 204);
    const stored = (await store.agentStatuses()).find((s) => s.agentId === "new-agent");
    assert.ok(stored !== undefined);
    assert.equal("traffic" in stored, false, "traffic figures stay out of the store");
    assert.deepEqual(stored.health[0]?.lastFailure, lastFailure);
    assert.equal(traffic.size, 0, "a first report only sets the baseline");
    const more = { ...report, traffic: [{ ...report.traffic[0], requests: 30 }] };
    assert.equal(await post(more), 204);
    assert.equal(traffic.size, 1, "the second one's difference went into the history");
    const [instance] = (await show()).instances;
    assert.deepEqual(instance?.lastFailure, lastFailure);
    assert.equal(instance?.description, FAILED);
  });
});
