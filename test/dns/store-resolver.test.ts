import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { DnsResponder } from "../../src/dns/responder.js";
import { storeResolver } from "../../src/dns/store-resolver.js";
import type { AgentStatus, NodeReport } from "../../src/model/agent-protocol.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer } from "../support/builders.js";

const META = { principal: "test", sourceIp: "127.0.0.1", requestId: "r-1", action: "CreateLoadBalancer" };

function node(loadBalancer: string, address: string, routableInService?: number): NodeReport {
  return {
    loadBalancer,
    address,
    ...(routableInService === undefined ? {} : { routableInService }),
    listeners: [{ port: 80, protocol: "HTTP", bound: true }],
  };
}

function status(agentId: string, nodes: NodeReport[], ageMs = 0, zone = "us-east-1a"): AgentStatus {
  return {
    agentId,
    zone,
    configRevision: 1,
    nodes,
    health: [],
    unexplained: [],
    time: new Date(Date.now() - ageMs).toISOString(),
  };
}

describe("storeResolver", () => {
  let dir: string;
  let store: SqliteStore;
  const web = aLoadBalancer({ name: "web", dnsName: "web-1234567890.us-east-1.elb.ballast.internal" });
  const idle = aLoadBalancer({ name: "idle", id: "999", dnsName: "idle-999.us-east-1.elb.ballast.internal" });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-dns-"));
    store = new SqliteStore(join(dir, "state.db"));
    await store.mutate(META, async (tx) => {
      tx.put("loadBalancer", web.name, web);
      tx.put("loadBalancer", idle.name, idle);
    });
    await store.putAgentStatus(
      status("agent-a", [node("web", "127.0.1.10"), node("web", "127.0.1.9"), node("other", "127.0.1.50")]),
    );
    await store.putAgentStatus(status("agent-b", [node("web", "127.0.1.9"), node("web", "127.0.1.2")]));
    // Silent for a minute: its nodes must not be handed out.
    await store.putAgentStatus(status("agent-stale", [node("web", "127.0.1.99")], 60_000));
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("maps a DNS name to the fresh node addresses of its load balancer, deduplicated and sorted", async () => {
    const resolve = storeResolver(store);
    assert.deepEqual(await resolve(web.dnsName), ["127.0.1.2", "127.0.1.9", "127.0.1.10"]);
    assert.deepEqual(await resolve(`${web.dnsName.toUpperCase()}.`), [
      "127.0.1.2",
      "127.0.1.9",
      "127.0.1.10",
    ]);
  });

  test("a load balancer with no nodes yet is [], an unknown name undefined", async () => {
    const resolve = storeResolver(store);
    assert.deepEqual(await resolve(idle.dnsName), []);
    assert.equal(await resolve("nope.us-east-1.elb.ballast.internal"), undefined);
  });

  test("a deleted load balancer no longer resolves", async () => {
    const gone = aLoadBalancer({ name: "gone", id: "77", dnsName: "gone-77.us-east-1.elb.ballast.internal" });
    await store.mutate(META, async (tx) => tx.put("loadBalancer", gone.name, gone));
    const resolve = storeResolver(store);
    assert.deepEqual(await resolve(gone.dnsName), []);
    await store.mutate({ ...META, action: "DeleteLoadBalancer" }, async (tx) =>
      tx.delete("loadBalancer", "gone"),
    );
    assert.equal(await resolve(gone.dnsName), undefined);
  });

  test("end to end: the responder answers a load balancer's DNSName from the store", async () => {
    const responder = new DnsResponder({
      host: "127.0.0.1",
      port: 0,
      domain: "elb.ballast.internal",
      resolve: storeResolver(store),
      logger: silentLogger,
    });
    const { udpPort } = await responder.start();
    try {
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([`127.0.0.1:${udpPort}`]);
      assert.deepEqual(await resolver.resolve4(web.dnsName), ["127.0.1.2", "127.0.1.9", "127.0.1.10"]);
      await assert.rejects(resolver.resolve4("nope.us-east-1.elb.ballast.internal"), { code: "ENOTFOUND" });
    } finally {
      await responder.close();
    }
  });
});

describe("storeResolver: nodes with no InService back end to route to", () => {
  let dir: string;
  let store: SqliteStore;
  const lb = (name: string, id: string) =>
    aLoadBalancer({ name, id, dnsName: `${name}-${id}.us-east-1.elb.ballast.internal` });
  const zonal = lb("zonal", "101");
  const down = lb("down", "102");
  const legacy = lb("legacy", "103");
  const lastly = lb("lastly", "104");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-dns-routable-"));
    store = new SqliteStore(join(dir, "state.db"));
    await store.mutate(META, async (tx) => {
      for (const l of [zonal, down, legacy, lastly]) tx.put("loadBalancer", l.name, l);
    });
    // Cross-zone off, healthy back ends only in zone a: zone b's node routes to none.
    await store.putAgentStatus(
      status(
        "agent-a",
        [node("zonal", "127.0.1.5", 2), node("down", "127.0.1.6", 0), node("legacy", "127.0.1.7", 0)],
        0,
        "us-east-1a",
      ),
    );
    await store.putAgentStatus(
      status(
        "agent-b",
        [
          node("zonal", "127.0.2.5", 0),
          node("down", "127.0.2.6", 0),
          // An agent from before routableInService: counted as routable.
          node("legacy", "127.0.2.7"),
          node("lastly", "127.0.2.8", 0),
        ],
        0,
        "us-east-1b",
      ),
    );
    // A silent agent's node is not evidence, however many back ends it last routed to.
    await store.putAgentStatus(status("agent-c", [node("lastly", "127.0.3.8", 4)], 60_000, "us-east-1c"));
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("cross-zone off with healthy instances only in zone a: only zone a's node", async () => {
    assert.deepEqual(await storeResolver(store)(zonal.dnsName), ["127.0.1.5"]);
  });

  test("no node with an InService back end: every fresh node (fail open)", async () => {
    assert.deepEqual(await storeResolver(store)(down.dnsName), ["127.0.1.6", "127.0.2.6"]);
  });

  test("a node without the field is included", async () => {
    assert.deepEqual(await storeResolver(store)(legacy.dnsName), ["127.0.2.7"]);
  });

  test("a stale node is ignored even when it was the only one routing", async () => {
    assert.deepEqual(await storeResolver(store)(lastly.dnsName), ["127.0.2.8"]);
  });
});

describe("storeResolver: the same name in two regions", () => {
  let dir: string;
  let store: SqliteStore;
  const east = aLoadBalancer({ name: "web", id: "201", dnsName: "web-201.us-east-1.elb.ballast.internal" });
  const west = {
    ...aLoadBalancer({ name: "web", id: "202", dnsName: "web-202.us-west-2.elb.ballast.internal" }),
    region: "us-west-2",
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-dns-regions-"));
    store = new SqliteStore(join(dir, "state.db"));
    await store.mutate(META, async (tx) => {
      tx.put("loadBalancer", "web", east);
      tx.put("loadBalancer", "us-west-2/web", west);
    });
    // Agents know load balancers by name; the zone says which region's "web" a node serves.
    await store.putAgentStatus(status("agent-east", [node("web", "127.0.1.20")], 0, "us-east-1a"));
    await store.putAgentStatus(status("agent-west", [node("web", "127.0.9.20")], 0, "us-west-2a"));
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("each DNS name gets only the nodes of its own region", async () => {
    const resolve = storeResolver(store);
    assert.deepEqual(await resolve(east.dnsName), ["127.0.1.20"]);
    assert.deepEqual(await resolve(west.dnsName), ["127.0.9.20"]);
  });
});

describe("storeResolver: a load balancer lost from the store behind the journal's back", () => {
  test("keeps answering with the nodes agents serve it on; NXDOMAIN once they stop, or once the name is re-created", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-dns-lost-"));
    const store = new SqliteStore(join(dir, "state.db"));
    try {
      const shop = aLoadBalancer({
        name: "shop",
        id: "111",
        dnsName: "shop-111.us-east-1.elb.ballast.internal",
      });
      await store.mutate(META, async (tx) => tx.put("loadBalancer", "shop", shop));
      await store.putAgentStatus(status("a", [node("shop", "127.0.9.1")]));
      const resolve = storeResolver(store);
      assert.deepEqual(await resolve(shop.dnsName), ["127.0.9.1"]);

      // Another connection, as the maintenance process had (this one's list cache would not see it).
      const raw = new Database(join(dir, "state.db"));
      raw.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'shop'").run();
      raw.close();
      assert.deepEqual(await resolve(shop.dnsName), ["127.0.9.1"], "the agents still serve it");
      assert.equal(await resolve("never-222.us-east-1.elb.ballast.internal"), undefined);

      await store.putAgentStatus(status("a", []));
      assert.equal(await resolve(shop.dnsName), undefined, "no agent serves it any more");

      await store.putAgentStatus(status("a", [node("shop", "127.0.9.1")]));
      const again = aLoadBalancer({
        name: "shop",
        id: "333",
        dnsName: "shop-333.us-east-1.elb.ballast.internal",
      });
      await store.mutate(META, async (tx) => tx.put("loadBalancer", "shop", again));
      assert.equal(await resolve(shop.dnsName), undefined, "the old name of a re-created load balancer");
      assert.deepEqual(await resolve(again.dnsName), ["127.0.9.1"]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
