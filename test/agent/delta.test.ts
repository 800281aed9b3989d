/**
 * The agent's side of delta documents: the merge keeps every load balancer a delta does not state
 * as the very object it runs, the last-known-good log holds each delta (torn tails and records of
 * an older snapshot ignored), an agent restarted with no control plane serves the state a sequence
 * of deltas left, and a malformed delta is refused whole, after which the agent asks for a full
 * document.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import {
  appendLastKnownGood,
  LKG_LOG_FILE,
  readLastKnownGood,
  writeSnapshot,
} from "../../src/agent/last-known-good.js";
import { mergeDelta } from "../../src/agent/merge.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import type { NodeSpec } from "../../src/model/node-spec.js";
import { silentLogger } from "../../src/util/logger.js";
import { closeServer, echoBackend, fetchRaw, freePort, waitFor } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";

const ZONE = "us-east-1a";
const cleanups = cleanupsAfterAll();
const dir = (): string => mkdtempSync(join(tmpdir(), "ballast-delta-"));
const backend = (id: string) => ({ instanceId: id, address: "127.0.0.1", zone: ZONE });

function doc(overrides: Partial<AgentConfig>): AgentConfig {
  return { format: 2, revision: 10, zone: ZONE, loadBalancers: [], removals: [], ...overrides };
}

describe("agent merge of a delta", () => {
  const running = new Map<string, NodeSpec>(
    ["a", "b", "c", "d"].map((name) => [name, aNodeSpec({ name, backends: [backend("i-1")] })]),
  );

  it("keeps every load balancer the delta does not state as the very object it runs", () => {
    const next = aNodeSpec({ name: "b", revision: 9 });
    const r = mergeDelta(running, [], doc({ loadBalancers: [next], delta: { from: 9 } }));
    assert.equal(r.running.size, 4);
    for (const name of ["a", "c", "d"]) assert.equal(r.running.get(name), running.get(name), name);
    assert.deepEqual(
      r.changed.map((l) => l.name),
      ["b"],
    );
    assert.deepEqual(r.left, []);
    assert.deepEqual(r.unexplained, ["b/backend/i-1"], "a back end the new spec omits, not removed, is kept");
    assert.ok(running.has("b") && running.size === 4, "the running set given is not changed");
  });

  it("removes only what the delta removes explicitly, and adds what it states first", () => {
    const r = mergeDelta(
      running,
      [],
      doc({
        loadBalancers: [aNodeSpec({ name: "e" })],
        removals: [
          { kind: "loadBalancer", loadBalancer: "a", key: "a", revision: 10 },
          { kind: "loadBalancer", loadBalancer: "zz", key: "zz", revision: 10 },
        ],
        delta: { from: 9 },
      }),
    );
    assert.deepEqual([...r.running.keys()].sort(), ["b", "c", "d", "e"]);
    assert.deepEqual(r.left, ["a"], "a removal of something not running takes nothing");
    assert.deepEqual(
      r.changed.map((l) => l.name),
      ["e"],
    );
  });

  it("keeps what was unexplained about untouched load balancers, and settles what it restates", () => {
    const r = mergeDelta(
      running,
      ["c", "d/listener/9000", "b/backend/i-9"],
      doc({ loadBalancers: [aNodeSpec({ name: "b", backends: [backend("i-1")] })], delta: { from: 9 } }),
    );
    assert.deepEqual(r.unexplained, ["c", "d/listener/9000"]);
  });
});

describe("last-known-good log of deltas", () => {
  const base = {
    format: 2 as const,
    revision: 5,
    zone: ZONE,
    loadBalancers: [aNodeSpec({ name: "a" }), aNodeSpec({ name: "b" })],
    addresses: { a: "127.0.1.1", b: "127.0.1.2" },
    savedAt: new Date().toISOString(),
  };

  it("reads the snapshot with each appended delta replayed on top, the log written 0600", async () => {
    const d = dir();
    const files = await writeSnapshot(d, base);
    await appendLastKnownGood(d, files.generation, {
      revision: 6,
      loadBalancers: [aNodeSpec({ name: "c", revision: 6 })],
      left: [],
      addresses: { c: "127.0.1.3" },
    });
    const size = await appendLastKnownGood(d, files.generation, {
      revision: 7,
      loadBalancers: [aNodeSpec({ name: "b", revision: 7, dnsName: "b-7.example" })],
      left: ["a"],
      addresses: { b: "127.0.1.2" },
    });
    assert.equal(size, statSync(join(d, LKG_LOG_FILE)).size);
    assert.equal(statSync(join(d, LKG_LOG_FILE)).mode & 0o777, 0o600);
    const lkg = await readLastKnownGood(d);
    assert.equal(lkg?.revision, 7);
    assert.deepEqual(
      lkg?.loadBalancers.map((l) => [l.name, l.revision, l.dnsName]),
      [
        ["b", 7, "b-7.example"],
        ["c", 6, "web-1.us-east-1.elb.ballast.internal"],
      ],
    );
    assert.deepEqual(lkg?.addresses, { b: "127.0.1.2", c: "127.0.1.3" });
  });

  it("ignores a record cut short by a crash, and the next append starts on a line of its own", async () => {
    const d = dir();
    const { generation } = await writeSnapshot(d, base);
    const change = { revision: 6, loadBalancers: [aNodeSpec({ name: "c" })], left: [], addresses: {} };
    await appendLastKnownGood(d, generation, change);
    appendFileSync(join(d, LKG_LOG_FILE), '{"generation":"torn","revis');
    assert.equal((await readLastKnownGood(d))?.revision, 6);
    await appendLastKnownGood(d, generation, { ...change, revision: 8, left: ["c"] });
    const lkg = await readLastKnownGood(d);
    assert.equal(lkg?.revision, 8);
    assert.deepEqual(
      lkg?.loadBalancers.map((l) => l.name),
      ["a", "b"],
    );
    assert.ok(!readFileSync(join(d, LKG_LOG_FILE), "utf8").includes("torn"));
  });

  it("skips records of another snapshot, and a new snapshot removes the log", async () => {
    const d = dir();
    await writeSnapshot(d, base);
    await appendLastKnownGood(d, "an-older-generation", {
      revision: 9,
      loadBalancers: [],
      left: ["a", "b"],
      addresses: {},
    });
    assert.deepEqual(
      (await readLastKnownGood(d))?.loadBalancers.map((l) => l.name),
      ["a", "b"],
    );
    await writeSnapshot(d, base);
    assert.equal(existsSync(join(d, LKG_LOG_FILE)), false);
  });

  it("stops at a damaged record before the last one, naming the file and line, and keeps what came before it", async () => {
    const d = dir();
    const { generation } = await writeSnapshot(d, base);
    const good = { generation, revision: 6, loadBalancers: [], left: ["a"], addresses: {} };
    const later = { generation, revision: 8, loadBalancers: [], left: ["b"], addresses: {} };
    const cases: [string, RegExp][] = [
      ["not json", /last-known-good\.log line 2 is not JSON/],
      [
        JSON.stringify({ generation, revision: 7, loadBalancers: [{ name: "x" }], left: [], addresses: {} }),
        /line 2: load balancer x/,
      ],
      [
        JSON.stringify({ generation, revision: 7, loadBalancers: [], left: [""], addresses: {} }),
        /line 2 is not a last-known-good record/,
      ],
    ];
    for (const [damage, named] of cases) {
      writeFileSync(join(d, LKG_LOG_FILE), `${JSON.stringify(good)}\n${damage}\n${JSON.stringify(later)}\n`, {
        mode: 0o600,
      });
      const lkg = await readLastKnownGood(d);
      assert.match(lkg?.damagedLog ?? "", named);
      assert.equal(lkg?.revision, 6, "the records before the damage, none after it");
      assert.deepEqual(
        lkg?.loadBalancers.map((l) => l.name),
        ["b"],
      );
    }
  });

  it("an agent whose log is damaged serves the records before it, and a new snapshot retires the log", async () => {
    const d = dir();
    const { generation } = await writeSnapshot(d, { ...base, loadBalancers: [] });
    const web = aNodeSpec({ name: "web", revision: 6, listeners: [] });
    writeFileSync(
      join(d, LKG_LOG_FILE),
      `${JSON.stringify({ generation, revision: 6, loadBalancers: [web], left: [], addresses: {} })}\nnot json\n`,
      { mode: 0o600 },
    );
    const agent = new Agent({
      agentId: "damaged-log",
      zone: ZONE,
      pool: "127.0.18.0/30",
      dataDir: d,
      controlUrls: [`http://127.0.0.1:${await freePort("127.0.0.1")}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
    });
    await agent.start();
    try {
      assert.equal(agent.revision, 6);
      assert.deepEqual(
        agent.status().nodes.map((n) => n.loadBalancer),
        ["web"],
      );
      const reread = await readLastKnownGood(d);
      assert.equal(reread?.damagedLog, undefined, "the damaged log is retired");
      assert.equal(reread?.revision, 6);
      assert.deepEqual(
        reread?.loadBalancers.map((l) => l.name),
        ["web"],
      );
    } finally {
      await agent.stop(0);
    }
  });
});

describe("an agent following deltas", () => {
  it("serves, after a restart with no control plane, what a sequence of deltas left", async () => {
    const be = await echoBackend("be");
    cleanups.push(() => closeServer(be.server));
    const host = "127.0.16.1";
    const ports = await Promise.all([0, 1, 2].map(() => freePort(host)));
    const [p0, p1, p2] = ports as [number, number, number];
    const lb = (name: string, listenerPorts: number[], revision: number) =>
      aNodeSpec({
        name,
        revision,
        listeners: listenerPorts.map((p) => ({
          protocol: "HTTP",
          loadBalancerPort: p,
          instanceProtocol: "HTTP",
          instancePort: be.port,
        })),
        healthCheck: {
          target: `TCP:${be.port}`,
          interval: 5,
          timeout: 2,
          unhealthyThreshold: 2,
          healthyThreshold: 2,
        },
        backends: [backend("i-1")],
      });
    const dataDir = dir();
    const start = async (): Promise<Agent> => {
      const agent = new Agent({
        agentId: "delta-test",
        zone: ZONE,
        pool: "127.0.16.0/30",
        dataDir,
        controlUrls: [`http://127.0.0.1:${await freePort("127.0.0.1")}`],
        token: "t",
        logger: silentLogger,
        pollWaitSeconds: 1,
      });
      await agent.start();
      return agent;
    };
    const first = await start();
    assert.equal(
      await first.accept(doc({ revision: 3, loadBalancers: [lb("web", [p0], 3), lb("api", [p1], 3)] })),
      true,
    );
    assert.equal(
      await first.accept(doc({ revision: 4, loadBalancers: [lb("web", [p0, p2], 4)], delta: { from: 3 } })),
      true,
    );
    assert.equal(
      await first.accept(
        doc({
          revision: 5,
          removals: [{ kind: "loadBalancer", loadBalancer: "api", key: "api", revision: 5 }],
          delta: { from: 4 },
        }),
      ),
      true,
    );
    assert.equal(first.revision, 5);
    const lkgLog = readFileSync(join(dataDir, LKG_LOG_FILE), "utf8").trim().split("\n");
    assert.equal(lkgLog.length, 2, "one record per delta");
    await first.stop(0);

    const second = await start();
    cleanups.push(() => second.stop(0));
    assert.equal(second.revision, 5);
    assert.deepEqual(
      second.status().nodes.map((n) => [n.loadBalancer, n.listeners.map((l) => l.port).sort()]),
      [["web", [p0, p2].sort()]],
    );
    const address = second.status().nodes[0]?.address ?? "";
    await waitFor("the restarted agent to answer on both ports", () => second.readiness().ready);
    for (const port of [p0, p2])
      assert.equal((await fetchRaw(address, port, "/")).status, 200, `port ${port}`);
  });

  it("refuses a malformed delta whole, keeps serving, then asks for and takes a full document", async () => {
    const queries: URLSearchParams[] = [];
    /** The query each document was sent in answer to, by the document's revision. */
    const answered = new Map<number, URLSearchParams>();
    let answer: unknown = doc({ revision: 5, loadBalancers: [aNodeSpec({ name: "a", listeners: [] })] });
    const server: Server = createServer((req, res) => {
      if (req.url?.startsWith("/agent/v1/config")) {
        const q = new URL(req.url, "http://x").searchParams;
        queries.push(q);
        const r = (answer as { revision: number }).revision;
        if (Number(q.get("have")) === r) {
          setTimeout(() => res.writeHead(204).end(), 100);
          return;
        }
        answered.set(r, q);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
        return;
      }
      req.resume();
      req.on("end", () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const agent = new Agent({
      agentId: "nack-delta",
      zone: ZONE,
      pool: "127.0.17.0/30",
      dataDir: dir(),
      controlUrls: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
    });
    await agent.start();
    cleanups.push(() => agent.stop(0));
    await waitFor("the first document", () => agent.revision === 5);
    assert.equal(queries.at(-1)?.get("delta"), "1", "the agent asks for deltas");

    answer = doc({
      revision: 6,
      loadBalancers: [aNodeSpec({ name: "b", listeners: [] })],
      delta: { from: 9 },
    });
    await waitFor("the refusal", () => agent.status().refused?.revision === 6);
    assert.match(agent.status().refused?.reason ?? "", /malformed document: .*malformed delta/);
    assert.equal(agent.revision, 5);
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["a"],
    );

    answer = doc({ revision: 7, loadBalancers: [aNodeSpec({ name: "b", listeners: [] })] });
    await waitFor("the full document after the refusal", () => agent.revision === 7, 10_000);
    assert.equal(answered.get(7)?.get("delta"), null, "after a refusal the agent asks for a full document");
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["a", "b"],
    );
    await waitFor("deltas asked for again", () => queries.at(-1)?.get("delta") === "1");
  });
});
