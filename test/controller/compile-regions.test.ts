/**
 * The compiler with load balancers of several regions: a zone's document holds only its region's
 * (zone names carry the region, and the compiler already filters by zone), and a removal names
 * the load balancer as agents know it, not its regional store key (`us-west-2/web`).
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compileAgentConfig } from "../../src/controller/compile.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { aLoadBalancer, meta } from "../support/builders.js";

describe("config compiler: regions", () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-compile-regions-")), "b.db"));
  after(() => store.close());
  const west = { ...aLoadBalancer({ name: "web", availabilityZones: ["us-west-2a"] }), region: "us-west-2" };

  it("a zone's document holds only the load balancers of its zone, so of its region", async () => {
    await store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
      tx.put("loadBalancer", "us-west-2/web", west);
    });
    const east = await compileAgentConfig(store, "us-east-1a", 0);
    assert.deepEqual(
      east.loadBalancers.map((l) => [l.name, l.dnsName]),
      [["web", aLoadBalancer({ name: "web" }).dnsName]],
    );
    const westDoc = await compileAgentConfig(store, "us-west-2a", 0);
    assert.deepEqual(
      westDoc.loadBalancers.map((l) => l.name),
      ["web"],
    );
  });

  it("deleting another region's load balancer is a removal of its name, in its zone only", async () => {
    const have = await store.head();
    const del = await store.mutate(meta("DeleteLoadBalancer"), async (tx) =>
      tx.delete("loadBalancer", "us-west-2/web"),
    );
    const doc = await compileAgentConfig(store, "us-west-2a", have);
    assert.deepEqual(doc.removals, [
      { kind: "loadBalancer", loadBalancer: "web", key: "web", revision: del.revision?.number },
    ]);
    assert.deepEqual((await compileAgentConfig(store, "us-east-1a", have)).removals, []);
  });
});
