/**
 * Delta documents on a real SQLite store: only the load balancers whose resolved spec may have
 * changed since the agent's revision are stated (the load balancer itself, an instance it
 * registers, a certificate its listener uses, its placement), removals stay explicit, and a
 * compaction past the agent's revision, first contact or an agent that does not ask get the full
 * document. The store is wrapped to count listings: a delta never lists it.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compileFor } from "../../src/controller/compile.js";
import { ReferenceIndex } from "../../src/controller/references.js";
import type { Placement } from "../../src/model/placement.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { aLoadBalancer, anInstance, meta } from "../support/builders.js";

const ZONE = "us-east-1a";
const ARN = "arn:aws:iam::000000000000:server-certificate/site";

/** The store, with every `list()` call counted. */
function counted(store: Store): { store: Store; lists: () => number } {
  let lists = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      if (prop === "list")
        return (...args: unknown[]) => {
          lists++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: wrapped, lists: () => lists };
}

function placement(lb: string, agents: string[]): Placement {
  return { loadBalancer: lb, name: lb, region: "us-east-1", nodes: { [ZONE]: agents } };
}

describe("config compiler: delta documents", () => {
  const sqlite = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-compile-delta-")), "b.db"));
  const { store, lists } = counted(sqlite);
  const references = new ReferenceIndex(store);
  const delta = (have: number, agent?: string) =>
    compileFor(store, ZONE, have, { delta: true, references, ...(agent === undefined ? {} : { agent }) });
  const names = (doc: { loadBalancers: readonly { name: string }[] }) => doc.loadBalancers.map((l) => l.name);
  after(() => sqlite.close());

  it("seeds: 50 load balancers, one with an instance from the inventory, one with a certificate", async () => {
    await store.mutate(meta(), async (tx) => {
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1", address: "127.0.5.1" }));
      tx.put("certificate", ARN, {
        arn: ARN,
        name: "site",
        certificateBody: "CERT",
        privateKey: "KEY",
        uploadedTime: "2026-11-23T00:00:00.000Z",
        notAfter: "2027-11-23T00:00:00.000Z",
        subject: "CN=site",
      });
      for (let i = 0; i < 48; i++) tx.put("loadBalancer", `lb-${i}`, aLoadBalancer({ name: `lb-${i}` }));
      tx.put("loadBalancer", "with-instance", aLoadBalancer({ name: "with-instance", instances: ["i-1"] }));
      tx.put(
        "loadBalancer",
        "with-cert",
        aLoadBalancer({
          name: "with-cert",
          listeners: [
            {
              protocol: "HTTPS",
              loadBalancerPort: 443,
              instanceProtocol: "HTTP",
              instancePort: 80,
              sslCertificateId: ARN,
            },
          ],
        }),
      );
    });
    const first = await delta(0);
    assert.equal(first.delta, undefined, "first contact gets the full document");
    assert.equal(first.loadBalancers.length, 50);
  });

  it("states only the load balancer a call changed, marked as a delta from the agent's revision", async () => {
    const have = await store.head();
    await store.mutate(meta("CreateLoadBalancerListeners"), async (tx) => {
      const lb = await tx.get("loadBalancer", "lb-7");
      assert.ok(lb);
      tx.put("loadBalancer", "lb-7", {
        ...lb,
        listeners: [
          ...lb.listeners,
          { protocol: "TCP", loadBalancerPort: 9000, instanceProtocol: "TCP", instancePort: 9000 },
        ],
      });
    });
    const before = lists();
    const doc = await delta(have);
    assert.deepEqual(doc.delta, { from: have });
    assert.equal(doc.revision, await store.head());
    assert.deepEqual(names(doc), ["lb-7"]);
    assert.deepEqual(
      doc.loadBalancers[0]?.listeners.map((l) => l.port),
      [80, 9000],
    );
    assert.deepEqual(doc.removals, []);
    assert.equal(lists(), before, "a delta lists nothing");
  });

  it("pulls in the load balancer of a changed instance (inventory) and of a changed certificate", async () => {
    const have = await store.head();
    await store.mutate(meta("UpdateInventory"), async (tx) => {
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1", address: "127.0.5.9" }));
    });
    const doc = await delta(have);
    assert.deepEqual(names(doc), ["with-instance"]);
    assert.equal(doc.loadBalancers[0]?.backends[0]?.address, "127.0.5.9");

    const have2 = await store.head();
    await store.mutate(meta("UploadServerCertificate"), async (tx) => {
      const c = await tx.get("certificate", ARN);
      assert.ok(c);
      tx.put("certificate", ARN, { ...c, certificateBody: "CERT2" });
    });
    const before = lists();
    const doc2 = await delta(have2);
    assert.deepEqual(names(doc2), ["with-cert"]);
    const tls = doc2.loadBalancers[0]?.listeners[0]?.tls;
    assert.ok(tls !== null && tls !== undefined && "certificatePem" in tls);
    assert.match(tls.certificatePem, /CERT2/);
    assert.equal(lists(), before, "the reference index is caught up from the journal, not by listing");
  });

  it("a registration changes the index too: the next inventory change pulls the new load balancer in", async () => {
    await store.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
      const lb = await tx.get("loadBalancer", "lb-3");
      assert.ok(lb);
      tx.put("loadBalancer", "lb-3", { ...lb, instances: ["i-1"] });
    });
    const have = await store.head();
    await store.mutate(meta("UpdateInventory"), async (tx) => {
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1", address: "127.0.5.10" }));
    });
    assert.deepEqual(names(await delta(have)), ["lb-3", "with-instance"]);
  });

  it("carries explicit removals, and states nothing for a deleted load balancer", async () => {
    const have = await store.head();
    const dereg = await store.mutate(meta("DeregisterInstancesFromLoadBalancer"), async (tx) => {
      const lb = await tx.get("loadBalancer", "lb-3");
      assert.ok(lb);
      tx.put("loadBalancer", "lb-3", { ...lb, instances: [] });
    });
    const del = await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "lb-9");
    });
    const doc = await delta(have);
    assert.deepEqual(names(doc), ["lb-3"]);
    assert.deepEqual(doc.removals, [
      { kind: "backend", loadBalancer: "lb-3", key: "i-1", revision: dereg.revision?.number },
      { kind: "loadBalancer", loadBalancer: "lb-9", key: "lb-9", revision: del.revision?.number },
    ]);
  });

  it("per agent: a placement change pulls the load balancer in, or moves it away explicitly", async () => {
    await store.mutate(meta("Place"), async (tx) => {
      for (let i = 0; i < 5; i++) tx.put("placement", `lb-${i}`, placement(`lb-${i}`, ["a1"]));
    });
    const have = await store.head();
    await store.mutate(meta("Place"), async (tx) => {
      tx.put("placement", "lb-10", placement("lb-10", ["a1"]));
      tx.put("placement", "lb-1", placement("lb-1", ["a2"]));
    });
    const doc = await delta(have, "a1");
    assert.deepEqual(names(doc), ["lb-10"]);
    assert.deepEqual(
      doc.removals.map((r) => [r.loadBalancer, r.moved]),
      [["lb-1", true]],
    );
    assert.deepEqual(names(await delta(have, "a2")), ["lb-1"]);
  });

  it("gives the full document to an agent that does not ask, and when the journal was compacted past it", async () => {
    const have = await store.head();
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", "late", aLoadBalancer({ name: "late" }));
    });
    const old = await compileFor(store, ZONE, have, { references });
    assert.equal(old.delta, undefined);
    assert.equal(old.loadBalancers.length, 50, "every load balancer of the zone (49 left, one new)");
    await store.compact(await store.head(), meta("CompactJournal"));
    const doc = await delta(have);
    assert.equal(doc.delta, undefined, "history since the agent's revision is gone");
    assert.equal(doc.loadBalancers.length, 50);
    const ahead = await delta((await store.head()) + 10);
    assert.equal(ahead.delta, undefined, "an agent ahead of the journal gets the full document");
  });
});
