/**
 * The runtime's load-balancer attributes on real sockets: cross-zone load balancing (a node
 * routes to its own zone's back ends unless it is on), connection draining of deregistered back
 * ends, and re-applies that leave established connections and in-flight requests alone.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_ATTRIBUTES } from "../../src/model/attributes.js";
import type { Backend } from "../../src/model/node-spec.js";
import type { NodeSource } from "../../src/model/resolve-node.js";
import type { HealthCheck, Listener, LoadBalancerAttributes } from "../../src/model/types.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import {
  closeServer,
  type EchoBackend,
  echoBackends,
  fastHealthCheck,
  fetchRaw,
  freePort,
  httpListener,
  lbSpec,
  waitFor,
} from "./helpers.js";
import { get, RawClient, sleep } from "./raw-client.js";

const ZONE = "us-east-1b";
const OTHER_ZONE = "us-east-1a";
const DRAINING = "Instance deregistration currently in progress";

const cleanups: (() => Promise<void>)[] = [];
let backends: EchoBackend[] = [];
let bp = 0;

before(async () => {
  backends = await echoBackends(["127.0.0.1", "127.0.0.2"]);
  bp = backends[0]?.port ?? 0;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const b of backends) await closeServer(b.server);
});

function runtime(): ProxyRuntime {
  const rt = new ProxyRuntime({ logger: silentLogger, zone: ZONE });
  cleanups.push(() => rt.close());
  return rt;
}

/** i-a on 127.0.0.1 (answers "b0"), i-b on 127.0.0.2 ("b1"). */
function inst(id: "i-a" | "i-b", zone: string): Backend {
  return { instanceId: id, address: id === "i-a" ? "127.0.0.1" : "127.0.0.2", zone };
}

function spec(
  listeners: readonly Listener[],
  members: readonly Backend[],
  attrs: Partial<LoadBalancerAttributes>,
  revision: number,
  hc: HealthCheck = fastHealthCheck(`HTTP:${bp}/health`),
): NodeSource {
  return {
    ...lbSpec("zones", listeners, members, hc, revision),
    attributes: { ...DEFAULT_ATTRIBUTES, ...attrs },
  };
}

const allInService = (rt: ProxyRuntime, n: number) => () =>
  rt.health().length === n && rt.health().every((h) => h.state === "InService");

describe("cross-zone load balancing", () => {
  it("off: a node with back ends only in another zone answers 503; on: it serves them", async () => {
    const node = "127.0.74.1";
    const rt = runtime();
    const port = await freePort(node);
    const members = [inst("i-a", OTHER_ZONE)];
    const off = { crossZoneLoadBalancing: { enabled: false } };
    await rt.apply(resolved([{ address: node, spec: spec([httpListener(port, bp)], members, off, 1) }]));
    await waitFor("i-a InService", allInService(rt, 1));
    assert.equal(rt.nodes()[0]?.routableInService, 0);
    const hits = backends[0]?.hits ?? 0;
    for (let i = 0; i < 3; i++) assert.equal((await fetchRaw(node, port, "/")).status, 503);
    assert.equal(backends[0]?.hits, hits, "the other zone's back end gets nothing");

    const on = { crossZoneLoadBalancing: { enabled: true } };
    await rt.apply(resolved([{ address: node, spec: spec([httpListener(port, bp)], members, on, 2) }]));
    await waitFor("routable", () => rt.nodes()[0]?.routableInService === 1);
    const r = await fetchRaw(node, port, "/");
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "b0");
  });

  it("off: with back ends in both zones only the node's own zone gets traffic", async () => {
    const node = "127.0.74.2";
    const rt = runtime();
    const port = await freePort(node);
    const members = [inst("i-a", ZONE), inst("i-b", OTHER_ZONE)];
    await rt.apply(
      resolved([{ address: node, spec: spec([httpListener(port, bp)], members, DEFAULT_ATTRIBUTES, 1) }]),
    );
    await waitFor("both InService", allInService(rt, 2));
    assert.equal(rt.nodes()[0]?.routableInService, 1);
    const other = backends[1]?.hits ?? 0;
    for (let i = 0; i < 6; i++) assert.equal((await fetchRaw(node, port, "/")).body.toString(), "b0");
    assert.equal(backends[1]?.hits, other);
  });
});

describe("connection draining", () => {
  const draining = { connectionDraining: { enabled: true, timeout: 2 } };

  /** A node with i-a and i-b and a slow request in flight on one of them; returns which. */
  async function slowOnOne(node: string, ms: number) {
    const rt = runtime();
    const port = await freePort(node);
    const both = [inst("i-a", ZONE), inst("i-b", ZONE)];
    await rt.apply(resolved([{ address: node, spec: spec([httpListener(port, bp)], both, draining, 1) }]));
    await waitFor("both InService", allInService(rt, 2));
    const before = backends.map((b) => b.hits);
    const slow = fetchRaw(node, port, `/slow/${ms}`);
    slow.catch(() => {});
    await waitFor("the slow request reached a back end", () => backends.some((b, i) => b.hits !== before[i]));
    const victim = backends[0]?.hits !== before[0] ? 0 : 1;
    const kept = both[1 - victim] as Backend;
    const id = (both[victim] as Backend).instanceId;
    await rt.apply(resolved([{ address: node, spec: spec([httpListener(port, bp)], [kept], draining, 2) }]));
    return { rt, port, slow, victim, id, appliedAt: performance.now() };
  }

  it("a deregistered back end drains: reported in progress, its request completes, then it is gone", async () => {
    const { rt, port, slow, victim, id } = await slowOnOne("127.0.74.3", 800);
    const entry = rt.health().find((h) => h.instanceId === id);
    assert.deepEqual(
      { draining: entry?.draining, state: entry?.state, description: entry?.description },
      { draining: true, state: "InService", description: DRAINING },
    );
    const other = `b${1 - victim}`;
    assert.equal((await fetchRaw("127.0.74.3", port, "/")).body.toString(), other, "new requests avoid it");
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `b${victim} slow`);
    const done = performance.now();
    await waitFor("the draining entry is gone", () => !rt.health().some((h) => h.instanceId === id), 1500);
    const ms = performance.now() - done;
    assert.ok(ms < 1500, `gone ${Math.round(ms)} ms after its last request, not at the 2 s timeout`);
  });

  it("a request held past the draining timeout is cut and the entry disappears at the timeout", async () => {
    const { rt, slow, id, appliedAt } = await slowOnOne("127.0.74.4", 6000);
    assert.equal(rt.health().find((h) => h.instanceId === id)?.draining, true);
    await waitFor("the draining entry is gone", () => !rt.health().some((h) => h.instanceId === id), 4000);
    const ms = performance.now() - appliedAt;
    assert.ok(ms > 1700 && ms < 5000, `gone after ${Math.round(ms)} ms (timeout 2 s)`);
    const outcome = await Promise.race([
      slow.then(
        (r) => r.status,
        () => "cut",
      ),
      sleep(1500).then(() => "still running"),
    ]);
    assert.ok(outcome !== "still running" && outcome !== 200, `the held request ended: ${outcome}`);
  });
});

describe("re-apply", () => {
  it("keeps established connections and in-flight requests through listener, check and attribute changes", async () => {
    const node = "127.0.74.5";
    const rt = runtime();
    const [pa, pb, pc] = [await freePort(node), await freePort(node), await freePort(node)];
    const members = [inst("i-a", ZONE), inst("i-b", ZONE)];
    await rt.apply(
      resolved([
        {
          address: node,
          spec: spec([httpListener(pa, bp), httpListener(pb, bp)], members, DEFAULT_ATTRIBUTES, 1),
        },
      ]),
    );
    await waitFor("both InService", allInService(rt, 2));
    const kept = await RawClient.connect(node, pa);
    cleanups.push(async () => kept.destroy());
    kept.write(get("/"));
    assert.equal((await kept.response()).status, 200);
    const slow = fetchRaw(node, pa, "/slow/800");
    await sleep(100);

    const changed = {
      crossZoneLoadBalancing: { enabled: true },
      connectionDraining: { enabled: true, timeout: 30 },
      connectionSettings: { idleTimeout: 30 },
    };
    const hc = fastHealthCheck(`TCP:${bp}`, { interval: 0.1 });
    await rt.apply(
      resolved([
        { address: node, spec: spec([httpListener(pa, bp), httpListener(pc, bp)], members, changed, 2, hc) },
      ]),
    );
    assert.deepEqual(
      rt.nodes()[0]?.listeners.map((l) => [l.port, l.bound]),
      [
        [pa, true],
        [pc, true],
      ],
    );
    const r = await slow;
    assert.equal(r.status, 200, "the in-flight request completes");
    assert.match(r.body.toString(), /^b[01] slow$/);
    assert.equal(kept.closed, false, "the kept-alive connection survives the apply");
    kept.write(get("/"));
    const again = await kept.response();
    assert.equal(again.status, 200, "and serves another request");
    assert.equal((await fetchRaw(node, pc, "/")).status, 200, "the added listener serves");
    await assert.rejects(fetchRaw(node, pb, "/"), { code: "ECONNREFUSED" }, "the removed listener is closed");
  });
});
