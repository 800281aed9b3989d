import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { DEFAULT_ATTRIBUTES } from "../../src/model/attributes.js";
import { isUsableTls, type ListenerSpec } from "../../src/model/node-spec.js";
import { type NodeSource, resolveNode } from "../../src/model/resolve-node.js";
import type { Listener, LoadBalancerAttributes, LoadBalancerPolicy } from "../../src/model/types.js";
import { aNodeSource } from "../support/builders.js";
import { selfSignedCert } from "../support/certs.js";

const ARN = "arn:aws:iam::000000000000:server-certificate/site";
const http: Listener = {
  protocol: "HTTP",
  loadBalancerPort: 80,
  instanceProtocol: "HTTP",
  instancePort: 8080,
};
const https: Listener = {
  protocol: "HTTPS",
  loadBalancerPort: 443,
  instanceProtocol: "HTTPS",
  instancePort: 8443,
  sslCertificateId: ARN,
};

function only(src: NodeSource): ListenerSpec {
  const l = resolveNode(src).listeners[0];
  assert.ok(l);
  return l;
}

function policy(
  policyName: string,
  policyTypeName: string,
  attrs: Record<string, string>,
): LoadBalancerPolicy {
  return {
    policyName,
    policyTypeName,
    attributes: Object.entries(attrs).map(([name, value]) => ({ name, value })),
  };
}

let spki: string;
let certPem: string;
before(() => {
  const pem = selfSignedCert("resolve.test", { days: 2 });
  certPem = pem.cert;
  spki = new X509Certificate(pem.cert).publicKey.export({ type: "spki", format: "der" }).toString("base64");
});

describe("resolveNode: defaults, applied once", () => {
  it("gives a load balancer with no attributes ELB's defaults in every field", () => {
    const spec = resolveNode(aNodeSource({ listeners: [http] }));
    assert.equal(spec.crossZone, false);
    assert.deepEqual(spec.draining, { enabled: false, timeoutSeconds: 300 });
    assert.deepEqual(spec.accessLog, {
      enabled: false,
      emitIntervalMinutes: 60,
      s3BucketName: "",
      s3BucketPrefix: "",
    });
    assert.deepEqual(spec.listeners, [
      {
        port: 80,
        protocol: "HTTP",
        engine: "http",
        idleTimeoutSeconds: 60,
        desyncMode: "defensive",
        stickiness: { kind: "none" },
        tls: null,
        upstream: { port: 8080, protocol: "HTTP", tls: false, proxyProtocol: false, authentication: null },
      },
    ]);
  });

  it("carries every attribute that is set", () => {
    const attributes: LoadBalancerAttributes = {
      crossZoneLoadBalancing: { enabled: true },
      connectionDraining: { enabled: true, timeout: 45 },
      connectionSettings: { idleTimeout: 7 },
      accessLog: { enabled: true, emitInterval: 5, s3BucketName: "logs", s3BucketPrefix: "p" },
      additionalAttributes: [{ key: "elb.http.desyncmitigationmode", value: "strictest" }],
    };
    const spec = resolveNode(
      aNodeSource({ listeners: [http, { ...http, loadBalancerPort: 81 }], attributes }),
    );
    assert.equal(spec.crossZone, true);
    assert.deepEqual(spec.draining, { enabled: true, timeoutSeconds: 45 });
    assert.deepEqual(spec.accessLog, {
      enabled: true,
      emitIntervalMinutes: 5,
      s3BucketName: "logs",
      s3BucketPrefix: "p",
    });
    for (const l of spec.listeners) {
      assert.equal(l.idleTimeoutSeconds, 7);
      assert.equal(l.desyncMode, "strictest");
    }
  });

  it("takes an unknown desync mode as the default, defensive", () => {
    const attributes = {
      ...DEFAULT_ATTRIBUTES,
      additionalAttributes: [{ key: "elb.http.desyncmitigationmode", value: "lenient" }],
    };
    assert.equal(only(aNodeSource({ listeners: [http], attributes })).desyncMode, "defensive");
  });

  it("no module of the data plane reads the API's policies, attributes or validation", () => {
    const dirs = ["src/proxy", "src/agent"];
    const forbidden =
      /from "(\.\.\/)+model\/(attributes|policies|policy-types|ssl-policies|validate|types)\.js"/;
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && forbidden.test(readFileSync(p, "utf8"))) offenders.push(p);
      }
    };
    for (const d of dirs) walk(d);
    assert.deepEqual(offenders, []);
  });
});

describe("resolveNode: engines", () => {
  const cases: [Listener["protocol"], Listener["instanceProtocol"], ListenerSpec["engine"], boolean][] = [
    ["HTTP", "HTTP", "http", false],
    ["HTTP", "HTTPS", "http", true],
    ["HTTPS", "HTTP", "http", false],
    ["TCP", "TCP", "tcp", false],
    ["TCP", "SSL", "tcp", true],
    ["SSL", "TCP", "tcp", false],
    ["HTTP", "TCP", "unsupported", false],
    ["SSL", "HTTP", "unsupported", false],
  ];
  for (const [front, back, engine, upstreamTls] of cases) {
    it(`${front} to ${back}: ${engine}`, () => {
      const l = only(
        aNodeSource({
          listeners: [{ protocol: front, loadBalancerPort: 1, instanceProtocol: back, instancePort: 2 }],
        }),
      );
      assert.equal(l.engine, engine);
      assert.equal(l.upstream.tls, upstreamTls);
      assert.equal(l.upstream.protocol, back);
    });
  }
});

describe("resolveNode: stickiness", () => {
  const stick = (p: LoadBalancerPolicy, names = [p.policyName]) =>
    only(aNodeSource({ listeners: [{ ...http, policyNames: names }], policies: [p] })).stickiness;

  it("LBCookieStickinessPolicyType with a period: a cookie with that max age", () => {
    assert.deepEqual(stick(policy("s", "LBCookieStickinessPolicyType", { CookieExpirationPeriod: "300" })), {
      kind: "lb-cookie",
      maxAgeSeconds: 300,
    });
  });

  it("LBCookieStickinessPolicyType without a period: a session cookie", () => {
    assert.deepEqual(stick(policy("s", "LBCookieStickinessPolicyType", {})), {
      kind: "lb-cookie",
      maxAgeSeconds: null,
    });
    assert.deepEqual(stick(policy("s", "LBCookieStickinessPolicyType", { CookieExpirationPeriod: "" })), {
      kind: "lb-cookie",
      maxAgeSeconds: null,
    });
  });

  it("AppCookieStickinessPolicyType: follows the application's cookie", () => {
    assert.deepEqual(stick(policy("a", "AppCookieStickinessPolicyType", { CookieName: "SESSION" })), {
      kind: "app-cookie",
      cookieName: "SESSION",
    });
  });

  it("a policy the listener does not name, or no policy: none", () => {
    assert.deepEqual(stick(policy("s", "LBCookieStickinessPolicyType", {}), []), { kind: "none" });
    assert.deepEqual(stick(policy("s", "LBCookieStickinessPolicyType", {}), ["other"]), { kind: "none" });
  });
});

describe("resolveNode: TLS contexts", () => {
  const certificates = () => [{ arn: ARN, certificateBody: certPem, privateKey: "KEY" }];

  it("the listener's certificate under ELB's default security policy", () => {
    const l = only(aNodeSource({ listeners: [https], certificates: certificates() }));
    assert.ok(isUsableTls(l.tls));
    assert.equal(l.tls.certificateArn, ARN);
    assert.equal(l.tls.certificatePem, certPem);
    assert.equal(l.tls.privateKey, "KEY");
    assert.equal(l.tls.policyName, "ELBSecurityPolicy-2016-08");
    assert.equal(l.tls.minVersion, "TLSv1");
    assert.equal(l.tls.maxVersion, "TLSv1.2");
    assert.equal(l.tls.honorCipherOrder, true);
    assert.match(l.tls.ciphers, /ECDHE-RSA-AES128-GCM-SHA256/);
  });

  it("the chain follows the certificate", () => {
    const l = only(
      aNodeSource({
        listeners: [https],
        certificates: [{ arn: ARN, certificateBody: certPem, privateKey: "KEY", certificateChain: "CHAIN" }],
      }),
    );
    assert.ok(isUsableTls(l.tls));
    assert.equal(l.tls.certificatePem, `${certPem.trimEnd()}\nCHAIN`);
  });

  it("an SSLNegotiationPolicyType policy on the listener sets protocols, ciphers and order", () => {
    const p = policy("tls12", "SSLNegotiationPolicyType", {
      "Protocol-TLSv1.2": "true",
      "ECDHE-RSA-AES256-GCM-SHA384": "true",
      "Server-Defined-Cipher-Order": "false",
    });
    const l = only(
      aNodeSource({
        listeners: [{ ...https, policyNames: ["tls12"] }],
        policies: [p],
        certificates: certificates(),
      }),
    );
    assert.ok(isUsableTls(l.tls));
    assert.equal(l.tls.policyName, "tls12");
    assert.equal(l.tls.minVersion, "TLSv1.2");
    assert.equal(l.tls.maxVersion, "TLSv1.2");
    assert.equal(l.tls.ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
    assert.equal(l.tls.honorCipherOrder, false);
  });

  it("no certificate, a missing certificate, or a policy with no protocol: unusable, with the reason", () => {
    const none = only(aNodeSource({ listeners: [{ ...https, sslCertificateId: "" }] }));
    assert.deepEqual(none.tls, { unusable: "the listener names no certificate" });
    const missing = only(aNodeSource({ listeners: [https] }));
    assert.deepEqual(missing.tls, { unusable: `certificate ${ARN} is not in the load balancer's spec` });
    const empty = only(
      aNodeSource({
        listeners: [{ ...https, policyNames: ["none"] }],
        policies: [policy("none", "SSLNegotiationPolicyType", { "Protocol-TLSv1.2": "false" })],
        certificates: certificates(),
      }),
    );
    assert.ok(empty.tls !== null && "unusable" in empty.tls);
    assert.match(empty.tls.unusable, /policy none is unusable/);
  });

  it("HTTP and TCP listeners have no TLS context", () => {
    assert.equal(only(aNodeSource({ listeners: [http] })).tls, null);
  });
});

describe("resolveNode: upstreams", () => {
  const backendServer = (instancePort: number, names: string[]) => [{ instancePort, policyNames: names }];
  const tcp: Listener = { protocol: "TCP", loadBalancerPort: 1, instanceProtocol: "SSL", instancePort: 8443 };

  it("Proxy Protocol only where a true ProxyProtocolPolicyType is set on the instance port", () => {
    const pp = policy("pp", "ProxyProtocolPolicyType", { ProxyProtocol: "true" });
    const at = (port: number, p = pp) =>
      only(
        aNodeSource({ listeners: [tcp], policies: [p], backendServerPolicies: backendServer(port, ["pp"]) }),
      ).upstream.proxyProtocol;
    assert.equal(at(8443), true);
    assert.equal(at(9000), false);
    assert.equal(at(8443, policy("pp", "ProxyProtocolPolicyType", { ProxyProtocol: "false" })), false);
  });

  it("back-end authentication: the keys of every named PublicKeyPolicy, deduplicated; garbage left out", () => {
    const policies = [
      policy("k1", "PublicKeyPolicyType", { PublicKey: spki }),
      policy("k2", "PublicKeyPolicyType", { PublicKey: spki }),
      policy("bad", "PublicKeyPolicyType", { PublicKey: "garbage" }),
      {
        policyName: "auth",
        policyTypeName: "BackendServerAuthenticationPolicyType",
        attributes: ["k1", "k2", "bad", "missing"].map((value) => ({ name: "PublicKeyPolicyName", value })),
      },
    ];
    const l = only(
      aNodeSource({ listeners: [tcp], policies, backendServerPolicies: backendServer(8443, ["auth"]) }),
    );
    assert.deepEqual(l.upstream.authentication, { publicKeys: [spki] });
    const garbageOnly = only(
      aNodeSource({
        listeners: [tcp],
        policies: [
          policy("bad", "PublicKeyPolicyType", { PublicKey: "garbage" }),
          policy("auth", "BackendServerAuthenticationPolicyType", { PublicKeyPolicyName: "bad" }),
        ],
        backendServerPolicies: backendServer(8443, ["auth"]),
      }),
    );
    assert.deepEqual(garbageOnly.upstream.authentication, { publicKeys: [] }, "no key accepts nothing");
    assert.equal(only(aNodeSource({ listeners: [tcp] })).upstream.authentication, null);
  });
});

describe("resolveNode: health check", () => {
  it("parses the target once: protocol, port and path", () => {
    const hc = {
      target: "HTTP:8080/health?x=1",
      interval: 10,
      timeout: 5,
      unhealthyThreshold: 3,
      healthyThreshold: 4,
    };
    assert.deepEqual(resolveNode(aNodeSource({ healthCheck: hc })).healthCheck, {
      protocol: "HTTP",
      port: 8080,
      path: "/health?x=1",
      intervalSeconds: 10,
      timeoutSeconds: 5,
      unhealthyThreshold: 3,
      healthyThreshold: 4,
      authentication: null,
    });
  });

  it("an SSL or HTTPS check takes the authentication set on its port", () => {
    const policies = [
      policy("k", "PublicKeyPolicyType", { PublicKey: spki }),
      policy("auth", "BackendServerAuthenticationPolicyType", { PublicKeyPolicyName: "k" }),
    ];
    const hc = { target: "SSL:8443", interval: 10, timeout: 5, unhealthyThreshold: 2, healthyThreshold: 2 };
    const spec = resolveNode(
      aNodeSource({
        healthCheck: hc,
        policies,
        backendServerPolicies: [{ instancePort: 8443, policyNames: ["auth"] }],
      }),
    );
    assert.deepEqual(spec.healthCheck.authentication, { publicKeys: [spki] });
    assert.equal(spec.healthCheck.path, "");
  });

  it("a target that does not parse (a damaged document) falls back to TCP on the first instance port", () => {
    const hc = { target: "GOPHER:70", interval: 10, timeout: 5, unhealthyThreshold: 2, healthyThreshold: 2 };
    const spec = resolveNode(aNodeSource({ healthCheck: hc, listeners: [http] }));
    assert.equal(spec.healthCheck.protocol, "TCP");
    assert.equal(spec.healthCheck.port, 8080);
  });
});
