import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Certificate, LoadBalancer } from "../../../src/model/types.js";
import { diffRevisions, diffStates, isEmptyDiff } from "../../../src/store/ops/diff.js";
import { diffLines } from "../../../src/store/ops/diff-text.js";
import { restore } from "../../../src/store/ops/restore.js";
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

  it("names every changed field of a load balancer: listeners by port, health check, instances, zones, tags", () => {
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
      "load balancer web: listeners[port=80].instancePort: 8080 → 9090",
      "load balancer web: health check target TCP:8080 → HTTP:80/health",
      "load balancer web: health check interval 30 → 10",
      "load balancer web: instance i-123 registered",
      "load balancer web: instance i-1 deregistered",
      "load balancer web: availability zone us-east-1c added",
      "load balancer web: availability zone us-east-1b removed",
      "load balancer web: tag team removed",
      "load balancer web: tag env prod → staging",
      "load balancer web: tag owner=ops added",
    ]);
    assert.equal(d.from, 3);
    assert.equal(d.to, 4);
    assert.deepEqual(d.entities[0]?.fields[0], {
      path: ["listeners", { by: "loadBalancerPort", is: 80 }, "instancePort"],
      field: "listeners[port=80].instancePort",
      op: "changed",
      before: 8080,
      after: 9090,
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
      "instance i-1: address: 10.0.0.1 → 10.0.0.2",
      "instance i-2: removed from inventory (was 127.0.0.1 in us-east-1a)",
      "instance i-3: added to inventory (10.0.0.3 in us-east-1b)",
      "credential AKIA1 (alice, reader): secret changed, role: admin → reader",
      "credential AKIA2 (bob, admin): created",
    ]);
    assert.ok(!JSON.stringify(d).includes(secret), "the structured diff must not carry secrets");
    assert.ok(!diffLines(d).join("\n").includes(secret));
  });

  it("names policies, their attributes, back-end server policies and attributes, path by path", () => {
    const before = aLoadBalancer({
      listeners: [
        { protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 },
        { protocol: "TCP", loadBalancerPort: 443, instanceProtocol: "TCP", instancePort: 8443 },
      ],
      policies: [
        {
          policyName: "sticky",
          policyTypeName: "LBCookieStickinessPolicyType",
          attributes: [{ name: "CookieExpirationPeriod", value: "60" }],
        },
        { policyName: "old", policyTypeName: "ProxyProtocolPolicyType", attributes: [] },
      ],
    });
    const after = aLoadBalancer({
      listeners: [
        {
          protocol: "HTTP",
          loadBalancerPort: 80,
          instanceProtocol: "HTTP",
          instancePort: 8080,
          policyNames: ["sticky"],
        },
        { protocol: "TCP", loadBalancerPort: 443, instanceProtocol: "TCP", instancePort: 8443 },
        { protocol: "TCP", loadBalancerPort: 25, instanceProtocol: "TCP", instancePort: 2525 },
      ],
      policies: [
        {
          policyName: "sticky",
          policyTypeName: "LBCookieStickinessPolicyType",
          attributes: [{ name: "CookieExpirationPeriod", value: "120" }],
        },
        {
          policyName: "auth",
          policyTypeName: "BackendServerAuthenticationPolicyType",
          attributes: [
            { name: "PublicKeyPolicyName", value: "k1" },
            { name: "PublicKeyPolicyName", value: "k2" },
          ],
        },
      ],
      backendServerPolicies: [{ instancePort: 8443, policyNames: ["auth"] }],
      attributes: {
        crossZoneLoadBalancing: { enabled: true },
        connectionDraining: { enabled: false, timeout: 300 },
        connectionSettings: { idleTimeout: 60 },
        accessLog: { enabled: false, emitInterval: 60 },
        additionalAttributes: [],
      },
    });
    const d = diffStates(
      state(1, (m) => m.loadBalancer.set("web", before)),
      state(2, (m) => m.loadBalancer.set("web", after)),
    );
    assert.deepEqual(diffLines(d), [
      'load balancer web: listeners[port=80].policyNames: [] → ["sticky"]',
      "load balancer web: listener TCP:25 → TCP:2525 added",
      "load balancer web: policy old (ProxyProtocolPolicyType) removed",
      "load balancer web: policies[name=sticky].attributes[name=CookieExpirationPeriod].value: 60 → 120",
      "load balancer web: policy auth (BackendServerAuthenticationPolicyType) added",
      'load balancer web: backendServerPolicies[instancePort=8443]: (none) → {"instancePort":8443,"policyNames":["auth"]}',
      "load balancer web: attributes.crossZoneLoadBalancing.enabled: (none) → true",
      "load balancer web: attributes.connectionDraining.enabled: (none) → false",
      "load balancer web: attributes.connectionDraining.timeout: (none) → 300",
      "load balancer web: attributes.connectionSettings.idleTimeout: (none) → 60",
      "load balancer web: attributes.accessLog.enabled: (none) → false",
      "load balancer web: attributes.accessLog.emitInterval: (none) → 60",
      "load balancer web: attributes.additionalAttributes: (none) → []",
    ]);
    // The same policy's repeated attribute names cannot key its attributes: they change as a whole.
    const rekeyed = diffStates(
      state(2, (m) => m.loadBalancer.set("web", after)),
      state(3, (m) =>
        m.loadBalancer.set("web", {
          ...after,
          policies: [
            after.policies?.[0] as NonNullable<LoadBalancer["policies"]>[number],
            {
              policyName: "auth",
              policyTypeName: "BackendServerAuthenticationPolicyType",
              attributes: [{ name: "PublicKeyPolicyName", value: "k2" }],
            },
          ],
        }),
      ),
    );
    assert.deepEqual(diffLines(rekeyed), [
      'load balancer web: policies[name=auth].attributes: [{"name":"PublicKeyPolicyName","value":"k1"},{"name":"PublicKeyPolicyName","value":"k2"}] → [{"name":"PublicKeyPolicyName","value":"k2"}]',
    ]);
  });

  it("says when only the order of listeners or instances changed", () => {
    const l80 = {
      protocol: "HTTP",
      loadBalancerPort: 80,
      instanceProtocol: "HTTP",
      instancePort: 8080,
    } as const;
    const l81 = { ...l80, loadBalancerPort: 81 };
    const d = diffStates(
      state(1, (m) =>
        m.loadBalancer.set("web", aLoadBalancer({ listeners: [l80, l81], instances: ["i-1", "i-2"] })),
      ),
      state(2, (m) =>
        m.loadBalancer.set("web", aLoadBalancer({ listeners: [l81, l80], instances: ["i-2", "i-1"] })),
      ),
    );
    assert.deepEqual(diffLines(d), [
      "load balancer web: listeners order: 80, 81 → 81, 80",
      'load balancer web: instances: ["i-1","i-2"] → ["i-2","i-1"]',
    ]);
  });

  it("names every field of certificates, subnets and limits, and never prints a private key", () => {
    const key = "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----";
    const cert: Certificate = {
      arn: "arn:aws:iam::123456789012:server-certificate/web",
      name: "web",
      certificateBody: `-----BEGIN CERTIFICATE-----\n${"A".repeat(200)}\n-----END CERTIFICATE-----`,
      privateKey: key,
      uploadedTime: "2026-12-01T00:00:00.000Z",
      notAfter: "2027-12-01T00:00:00.000Z",
      subject: "CN=web",
    };
    const a = state(1, (m) => {
      m.certificate.set(cert.arn, cert);
      m.subnet.set("subnet-1", { subnetId: "subnet-1", zone: "us-east-1a", vpcId: "vpc-1" });
      m.limit.set("classic-load-balancers", { name: "classic-load-balancers", max: 20 });
    });
    const b = state(2, (m) => {
      m.certificate.set(cert.arn, { ...cert, privateKey: `${key}2`, notAfter: "2028-12-01T00:00:00.000Z" });
      m.certificate.set("arn:new", { ...cert, arn: "arn:new" });
      m.subnet.set("subnet-1", {
        subnetId: "subnet-1",
        zone: "us-east-1a",
        vpcId: "vpc-1",
        cidrBlock: "10.0.0.0/24",
      });
      m.limit.set("classic-load-balancers", { name: "classic-load-balancers", max: 30 });
    });
    const d = diffStates(a, b);
    assert.deepEqual(diffLines(d), [
      `certificate ${cert.arn}: private key changed`,
      `certificate ${cert.arn}: notAfter: 2027-12-01T00:00:00.000Z → 2028-12-01T00:00:00.000Z`,
      "certificate arn:new: created (CN=web, valid until 2027-12-01T00:00:00.000Z)",
      "subnet subnet-1: cidrBlock: (none) → 10.0.0.0/24",
      "limit classic-load-balancers: max: 20 → 30",
    ]);
    assert.ok(!JSON.stringify(d).includes("SECRETKEYMATERIAL"), "the structured diff carries no private key");
    assert.ok(!diffLines(d).join("\n").includes("SECRETKEYMATERIAL"));
    const body = diffLines(
      diffStates(
        b,
        state(3, (m) => m.certificate.set(cert.arn, { ...cert, certificateBody: "short" })),
      ),
    );
    assert.match(body.join("\n"), /certificateBody: \(2\d\d characters, sha256 [0-9a-f]{12}…\) → short/);
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

describe("regression: SetLoadBalancerPoliciesOfListener (the trial of revisions 14 → 15)", () => {
  it("a policy attached to a listener shows in the diff and in the restore summary", async () => {
    const t = await openTempStore();
    try {
      const sticky = {
        policyName: "sticky",
        policyTypeName: "LBCookieStickinessPolicyType",
        attributes: [{ name: "CookieExpirationPeriod", value: "60" }],
      };
      const lb = aLoadBalancer({ policies: [sticky] });
      await t.store.mutate(meta("CreateLoadBalancer"), async (tx) => tx.put("loadBalancer", "web", lb));
      const before = await t.store.head();
      const listener = { ...lb.listeners[0], policyNames: ["sticky"] } as LoadBalancer["listeners"][number];
      await t.store.mutate(meta("SetLoadBalancerPoliciesOfListener"), async (tx) =>
        tx.put("loadBalancer", "web", { ...lb, listeners: [listener] }),
      );
      const attached = await t.store.head();

      const d = await diffRevisions(t.store, before, attached);
      assert.ok(!isEmptyDiff(d), "the diff is not empty");
      assert.deepEqual(diffLines(d), ['load balancer web: listeners[port=80].policyNames: [] → ["sticky"]']);

      const undone = await restore(t.store, { to: before, meta: meta("RestoreState") });
      assert.ok(undone.revision, "the restore wrote a revision");
      assert.deepEqual(diffLines(undone.diff), [
        'load balancer web: listeners[port=80].policyNames: ["sticky"] → []',
      ]);
    } finally {
      await t.cleanup();
    }
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
