/**
 * Partial status reports between a real agent and a real agent channel on a SQLite file: after
 * the first full report, the agent's reports carry only what changed (the control plane's
 * `ballast_agent_status_reports_total{kind="partial"}` counts them, and their bodies are a small
 * share of a full one); the stored status equals the agent's whole status, also after a back end
 * fails; the agents view (`ballast agents`) and the agent's DNS answers show the right nodes and
 * health; a restarted control plane, which holds no base, gets a full report at once. Against a
 * control plane of the earlier version (no acknowledged base) the agent sends full reports only.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { createAgentRoutes } from "../../src/api/admin/agents.js";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { closeServer, type EchoBackend, echoBackend } from "../proxy/helpers.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { randomPool } from "./agent-handover.js";
import { resolveA, waitFor } from "./support.js";

const TOKEN = "agent-token-partial-0123456789";
const ZONE = "us-east-1a";
const NAMES = Array.from({ length: 40 }, (_, i) => `lb${i}`);

/** The host part of a random loopback address no other test picks (127.20–99.x.y). */
function randomHost(): string {
  const r = (lo: number, n: number) => lo + Math.floor(Math.random() * n);
  return `127.${r(20, 80)}.${r(1, 250)}.${r(1, 250)}`;
}

const sorted = (s: AgentStatus) => ({
  configRevision: s.configRevision,
  nodes: [...s.nodes].sort((a, b) => a.loadBalancer.localeCompare(b.loadBalancer)),
  health: [...s.health].sort((a, b) => a.loadBalancer.localeCompare(b.loadBalancer)),
  unexplained: s.unexplained,
});

describe("e2e: partial status reports between an agent and the control plane", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-status-partial-"));
  const host = randomHost();
  const dnsHost = randomHost();
  const { pool } = randomPool();
  let store: SqliteStore;
  let channel: AgentChannel;
  let port = 0;
  let agent: Agent;
  let backend: EchoBackend;

  const startChannel = async (): Promise<void> => {
    channel = new AgentChannel({ store, token: TOKEN, zones: [ZONE], logger: silentLogger });
    port = await channel.listen(port, host);
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(line, `no ${name}`);
    return Number(line.split(" ").pop());
  };
  const partials = () => metric('ballast_agent_status_reports_total{kind="partial"}');
  const fulls = () => metric('ballast_agent_status_reports_total{kind="full"}');
  const stored = async () => (await store.agentStatuses()).find((s) => s.agentId === "partial-1");
  /** The stored status is the agent's whole one (health checks move it on: compared until they agree). */
  const same = async () => {
    const s = await stored();
    return s !== undefined && JSON.stringify(sorted(s)) === JSON.stringify(sorted(agent.status()));
  };

  before(async () => {
    backend = await echoBackend("b0", "127.0.0.1");
    store = new SqliteStore(join(dir, "ballast.db"));
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (const name of NAMES)
        tx.put(
          "loadBalancer",
          name,
          aLoadBalancer({
            name,
            availabilityZones: [ZONE],
            instances: ["127.0.0.1"],
            listeners: [
              { protocol: "TCP", loadBalancerPort: 80, instanceProtocol: "TCP", instancePort: backend.port },
            ],
            healthCheck: {
              target: `TCP:${backend.port}`,
              interval: 1,
              timeout: 1,
              unhealthyThreshold: 2,
              healthyThreshold: 2,
            },
          }),
        );
    });
    await startChannel();
    agent = new Agent({
      agentId: "partial-1",
      zone: ZONE,
      pool,
      dataDir: join(dir, "agent"),
      controlUrls: [`http://${host}:${port}`],
      token: TOKEN,
      logger: silentLogger,
      pollWaitSeconds: 1,
      statusIntervalMs: 300,
      dns: { host: dnsHost, port: 0, domain: "elb.ballast.internal" },
    });
    await agent.start();
  });

  after(async () => {
    await agent.stop(0);
    await channel.close();
    await store.close();
    await closeServer(backend.server);
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends partial reports after the first, and the stored status is the agent's whole one", async () => {
    await waitFor(
      async () => agent.status().health.filter((h) => h.state === "InService").length === NAMES.length,
      { what: "every back end InService on the agent", timeoutMs: 20_000 },
    );
    const before = await partials();
    await waitFor(async () => (await partials()) >= before + 3, { what: "three partial reports" });
    await waitFor(async () => same(), { what: "the stored status to equal the agent's" });
    assert.ok(agent.statusReports.partial >= 3);
    // Bytes received per partial report of a settled agent, against its whole status.
    const bytes = () => metric('ballast_agent_status_report_bytes_total{kind="partial"}');
    const [b0, n0] = [await bytes(), await partials()];
    await waitFor(async () => (await partials()) >= n0 + 3, { what: "three more partial reports" });
    const perPartial = ((await bytes()) - b0) / ((await partials()) - n0);
    const full = JSON.stringify(agent.status()).length;
    assert.ok(
      perPartial * 5 < full,
      `a partial report (${perPartial} B) is far smaller than a full one (${full} B)`,
    );
  });

  it("a back end that fails reaches the store, the agents view and DNS through partial reports", async () => {
    const fullsBefore = await fulls();
    await closeServer(backend.server);
    await waitFor(async () => (await stored())?.health.every((h) => h.state === "OutOfService") === true, {
      what: "OutOfService in the stored status",
      timeoutMs: 20_000,
    });
    assert.equal(await fulls(), fullsBefore, "carried by partial reports, no full one meanwhile");
    await waitFor(async () => same(), { what: "the stored status to equal the agent's" });
    const s = (await stored()) as AgentStatus;
    assert.ok(s.nodes.every((n) => n.routableInService === 0));
    const view = (await createAgentRoutes({ store })({
      method: "GET",
      path: "/admin/v1/agents",
      body: Buffer.alloc(0),
      credential: { accessKeyId: "AKIDTEST", secretAccessKey: "x", principal: "tester", createdTime: "" },
      meta: { principal: "tester", sourceIp: "127.0.0.1", requestId: "r-1" },
      region: "us-east-1",
      filterRegion: undefined,
    })) as { agents: { agentId: string; nodes: number; fresh: boolean }[] };
    const row = view.agents.find((a) => a.agentId === "partial-1");
    assert.equal(row?.nodes, NAMES.length);
    assert.equal(row?.fresh, true);
    // The agent's DNS answers with its node (the only one: fail open while none can serve).
    const node = s.nodes.find((n) => n.loadBalancer === "lb7")?.address;
    const dnsPort = agent.dnsPort;
    assert.ok(node !== undefined && dnsPort !== undefined);
    assert.deepEqual(await resolveA(dnsPort, "lb7-1234567890.us-east-1.elb.ballast.internal", dnsHost), [
      node,
    ]);
  });

  it("a restarted control plane, which holds no base, gets a full report at once", async () => {
    await channel.close();
    await startChannel();
    await waitFor(async () => (await fulls()) >= 1, { what: "a full report to the new control plane" });
    assert.ok(
      (await metric("ballast_agent_status_resends_total")) <= 1,
      "at most one partial report was refused",
    );
    const after = await partials();
    await waitFor(async () => (await partials()) >= after + 2, { what: "partial reports again" });
    await waitFor(async () => same(), { what: "the stored status to equal the agent's" });
  });
});

describe("e2e: a new agent against a control plane of the earlier version sends full reports", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-status-old-cp-"));
  const host = randomHost();
  const { pool } = randomPool();
  let store: SqliteStore;
  let channel: AgentChannel;
  let agent: Agent;

  before(async () => {
    store = new SqliteStore(join(dir, "ballast.db"));
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      for (const name of ["a", "b"])
        tx.put("loadBalancer", name, aLoadBalancer({ name, availabilityZones: [ZONE], listeners: [] }));
    });
    channel = new AgentChannel({
      store,
      token: TOKEN,
      zones: [ZONE],
      logger: silentLogger,
      partialStatus: false,
    });
    const port = await channel.listen(0, host);
    agent = new Agent({
      agentId: "old-cp-1",
      zone: ZONE,
      pool,
      dataDir: join(dir, "agent"),
      controlUrls: [`http://${host}:${port}`],
      token: TOKEN,
      logger: silentLogger,
      pollWaitSeconds: 1,
      statusIntervalMs: 200,
    });
    await agent.start();
  });
  after(async () => {
    await agent.stop(0);
    await channel.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every report is full, and stored whole", async () => {
    await waitFor(async () => agent.statusReports.full >= 5, { what: "five reports" });
    assert.equal(agent.statusReports.partial, 0);
    const s = (await store.agentStatuses()).find((x) => x.agentId === "old-cp-1");
    assert.deepEqual(s?.nodes.map((n) => n.loadBalancer).sort(), ["a", "b"]);
  });
});
