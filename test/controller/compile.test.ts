import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compileAgentConfig } from "../../src/controller/compile.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { aLoadBalancer, anInstance, meta } from "../support/builders.js";

describe("config compiler", () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-compile-")), "b.db"));
  after(() => store.close());

  it("states each load balancer of the zone with its back ends resolved through the inventory", async () => {
    await store.mutate(meta(), async (tx) => {
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1", address: "127.0.5.1" }));
      tx.put("loadBalancer", "web", aLoadBalancer({ instances: ["i-1", "127.0.5.2", "i-unknown"] }));
      tx.put("loadBalancer", "only-b", aLoadBalancer({ name: "only-b", availabilityZones: ["us-east-1b"] }));
    });
    const doc = await compileAgentConfig(store, "us-east-1a", 0);
    assert.equal(doc.revision, 1);
    assert.equal(doc.format, 2);
    assert.deepEqual(
      doc.loadBalancers.map((l) => l.name),
      ["web"],
    );
    assert.deepEqual(doc.loadBalancers[0]?.backends, [
      { instanceId: "i-1", address: "127.0.5.1", zone: "us-east-1a" },
      { instanceId: "127.0.5.2", address: "127.0.5.2", zone: "us-east-1a" },
    ]);
    assert.deepEqual(doc.removals, []);
  });

  it("lists each removal since the agent's revision, tied to the revision that made it", async () => {
    const have = await store.head();
    const dereg = await store.mutate(meta("DeregisterInstancesFromLoadBalancer"), async (tx) => {
      const lb = await tx.get("loadBalancer", "web");
      assert.ok(lb);
      tx.put("loadBalancer", "web", { ...lb, instances: ["i-1", "i-unknown"] });
    });
    await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
      tx.put("loadBalancer", "gone", aLoadBalancer({ name: "gone" }));
    });
    const mid = await store.head();
    const del = await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "gone");
    });
    const doc = await compileAgentConfig(store, "us-east-1a", have);
    assert.deepEqual(doc.removals, [
      { kind: "backend", loadBalancer: "web", key: "127.0.5.2", revision: dereg.revision?.number },
    ]);
    const fromMid = await compileAgentConfig(store, "us-east-1a", mid);
    assert.deepEqual(fromMid.removals, [
      { kind: "loadBalancer", loadBalancer: "gone", key: "gone", revision: del.revision?.number },
    ]);
  });

  it("sends each node resolved: defaults applied, policies interpreted, the listener's certificate in its TLS context", async () => {
    const arn = "arn:aws:iam::000000000000:server-certificate/site";
    await store.mutate(meta(), async (tx) => {
      tx.put("certificate", arn, {
        arn,
        name: "site",
        certificateBody: "CERT",
        privateKey: "KEY",
        uploadedTime: "2026-11-23T00:00:00.000Z",
        notAfter: "2027-11-23T00:00:00.000Z",
        subject: "CN=site",
      });
      tx.put(
        "loadBalancer",
        "tls",
        aLoadBalancer({
          name: "tls",
          listeners: [
            {
              protocol: "HTTPS",
              loadBalancerPort: 443,
              instanceProtocol: "HTTP",
              instancePort: 80,
              sslCertificateId: arn,
            },
          ],
          policies: [
            {
              policyName: "pp",
              policyTypeName: "ProxyProtocolPolicyType",
              attributes: [{ name: "ProxyProtocol", value: "true" }],
            },
          ],
        }),
      );
    });
    const doc = await compileAgentConfig(store, "us-east-1a", 0);
    const tls = doc.loadBalancers.find((l) => l.name === "tls");
    assert.ok(tls);
    const listener = tls.listeners[0];
    assert.ok(listener);
    assert.equal(listener.idleTimeoutSeconds, 60);
    assert.equal(tls.crossZone, false);
    assert.deepEqual(tls.draining, { enabled: false, timeoutSeconds: 300 });
    assert.ok(listener.tls !== null && "certificateArn" in listener.tls);
    assert.equal(listener.tls.certificateArn, arn);
    assert.equal(listener.tls.certificatePem, "CERT");
    assert.equal(listener.tls.privateKey, "KEY");
    assert.equal(listener.tls.policyName, "ELBSecurityPolicy-2016-08");
    // A Proxy Protocol policy that is not set on the instance port does nothing.
    assert.equal(listener.upstream.proxyProtocol, false);
  });

  it("gives an agent from before a compaction the removals from the compaction on", async () => {
    const stale = await store.head();
    await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "tls");
    });
    const through = await store.head();
    await store.compact(through, meta("CompactJournal"));
    const del = await store.mutate(meta("DeleteLoadBalancer"), async (tx) => {
      tx.delete("loadBalancer", "web");
    });
    const doc = await compileAgentConfig(store, "us-east-1a", stale);
    // "tls" left before the compaction: no removal survives for it, so the agent keeps it.
    assert.deepEqual(doc.removals, [
      { kind: "loadBalancer", loadBalancer: "web", key: "web", revision: del.revision?.number },
    ]);
  });

  it("removes nothing for an agent ahead of the journal (the store lost history)", async () => {
    const doc = await compileAgentConfig(store, "us-east-1a", 1_000_000);
    assert.deepEqual(doc.removals, []);
  });
});
