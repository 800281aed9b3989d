import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { diffLines, diffRevisions, diffStates, isEmptyDiff } from "../../../src/store/ops/diff.js";
import { emptyEntityMaps, type State } from "../../../src/store/ops/snapshot.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { aCredential, openTempStore, type TempStore } from "./support.js";

function state(revision: number, fill: (m: ReturnType<typeof emptyEntityMaps>) => void): State {
  const entities = emptyEntityMaps();
  fill(entities);
  return { revision, entities };
}

describe("diffStates", () => {
  it("says a load balancer was created or deleted", () => {
    const a = state(1, (m) => m.loadBalancer.set("old", aLoadBalancer({ name: "old" })));
    const b = state(2, (m) => m.loadBalancer.set("web", aLoadBalancer({ name: "web" })));
    assert.deepEqual(diffLines(diffStates(a, b)), [
      "load balancer old: deleted",
      "load balancer web: created",
    ]);
  });

  it("names listeners, instances, health check, tags and zones of a changed load balancer", () => {
    const before = aLoadBalancer({
      instances: ["i-1", "i-2"],
      tags: [{ key: "env", value: "prod" }, { key: "team" }],
    });
    const after = aLoadBalancer({
      listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 9090 }],
      instances: ["i-2", "i-123"],
      healthCheck: { ...before.healthCheck, target: "HTTP:80/health", interval: 10 },
      availabilityZones: ["us-east-1a", "us-east-1c"],
      tags: [
        { key: "env", value: "staging" },
        { key: "owner", value: "ops" },
      ],
    });
    const d = diffStates(
      state(3, (m) => m.loadBalancer.set("web", before)),
      state(4, (m) => m.loadBalancer.set("web", after)),
    );
    assert.deepEqual(diffLines(d), [
      "load balancer web: listener HTTP:80 → HTTP:8080 removed",
      "load balancer web: listener HTTP:80 → HTTP:9090 added",
      "load balancer web: health check target TCP:8080 → HTTP:80/health",
      "load balancer web: health check interval 30 → 10",
      "load balancer web: instance i-123 registered",
      "load balancer web: instance i-1 deregistered",
      "load balancer web: availability zone us-east-1c added",
      "load balancer web: availability zone us-east-1b removed",
      "load balancer web: tag env prod → staging",
      "load balancer web: tag team removed",
      "load balancer web: tag owner=ops added",
    ]);
    assert.equal(d.from, 3);
    assert.equal(d.to, 4);
    assert.deepEqual(d.loadBalancers[0]?.details[4], {
      aspect: "instance",
      op: "registered",
      instanceId: "i-123",
    });
  });

  it("reports inventory and credential changes without printing secrets", () => {
    const secret = "SUPERSECRETVALUE";
    const a = state(1, (m) => {
      m.instance.set("i-1", anInstance({ instanceId: "i-1", address: "10.0.0.1" }));
      m.instance.set("i-2", anInstance({ instanceId: "i-2" }));
      m.credential.set("AKIA1", aCredential({ accessKeyId: "AKIA1", secretAccessKey: secret }));
    });
    const b = state(2, (m) => {
      m.instance.set("i-1", anInstance({ instanceId: "i-1", address: "10.0.0.2" }));
      m.instance.set("i-3", anInstance({ instanceId: "i-3", address: "10.0.0.3", zone: "us-east-1b" }));
      m.credential.set(
        "AKIA1",
        aCredential({ accessKeyId: "AKIA1", secretAccessKey: `${secret}2`, role: "reader" }),
      );
      m.credential.set(
        "AKIA2",
        aCredential({ accessKeyId: "AKIA2", principal: "bob", secretAccessKey: secret }),
      );
    });
    const d = diffStates(a, b);
    assert.deepEqual(diffLines(d), [
      "instance i-1: 10.0.0.1 in us-east-1a → 10.0.0.2 in us-east-1a",
      "instance i-2: removed from inventory (was 127.0.0.1 in us-east-1a)",
      "instance i-3: added to inventory (10.0.0.3 in us-east-1b)",
      "credential AKIA1 (alice, reader): role changed, secret changed",
      "credential AKIA2 (bob, admin): created",
    ]);
    assert.ok(!JSON.stringify(d).includes(secret), "the structured diff must not carry secrets");
    assert.ok(!diffLines(d).join("\n").includes(secret));
  });

  it("is empty between equal states, whatever the key order of the documents", () => {
    const lb = aLoadBalancer();
    const reordered = Object.fromEntries(Object.entries(lb).reverse()) as typeof lb;
    const d = diffStates(
      state(1, (m) => m.loadBalancer.set("web", lb)),
      state(2, (m) => m.loadBalancer.set("web", reordered)),
    );
    assert.ok(isEmptyDiff(d));
  });
});

describe("diffRevisions", () => {
  let t: TempStore;
  before(async () => {
    t = await openTempStore();
    await t.store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer());
    });
    await t.store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer({ instances: ["i-7"] }));
    });
  });
  after(async () => {
    await t.cleanup();
  });

  it("diffs two revisions of the journal, in either direction", async () => {
    assert.deepEqual(diffLines(await diffRevisions(t.store, 0, 2)), ["load balancer web: created"]);
    assert.deepEqual(diffLines(await diffRevisions(t.store, 1, 2)), [
      "load balancer web: instance i-7 registered",
    ]);
    assert.deepEqual(diffLines(await diffRevisions(t.store, 2, 1)), [
      "load balancer web: instance i-7 deregistered",
    ]);
    await assert.rejects(diffRevisions(t.store, 1, 3), /revision 3 does not exist/);
  });
});
