import assert from "node:assert/strict";
import { test } from "node:test";
import tls from "node:tls";
import { BallastError } from "../../src/model/errors.js";
import {
  appCookieStickinessPolicy,
  lbCookieStickinessPolicy,
  policiesReferencing,
  policyKindFor,
  validateBackendServerPolicies,
  validateListenerPolicies,
  validatePolicy,
} from "../../src/model/policies.js";
import { findPolicyType, POLICY_TYPES } from "../../src/model/policy-types.js";
import {
  DEFAULT_SECURITY_POLICY,
  ELB_CIPHER_NAMES,
  OPENSSL_CIPHER_NAME,
  PREDEFINED_POLICIES,
  predefinedPolicy,
  tlsOptionsFor,
} from "../../src/model/ssl-policies.js";
import type { LoadBalancerPolicy } from "../../src/model/types.js";

function rejects(fn: () => unknown, code: string, status: number, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BallastError);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const attr = (name: string, value: string) => ({ name, value });
const create = (
  policyName: string,
  policyTypeName: string,
  attributes = [] as { name: string; value: string }[],
) => ({ policyName, policyTypeName, attributes }) as const;

const publicKey = validatePolicy(create("pk", "PublicKeyPolicyType", [attr("PublicKey", "MIIBIjANBg")]), []);
const lbSticky = validatePolicy(lbCookieStickinessPolicy("lb-sticky", 60), []);
const appSticky = validatePolicy(appCookieStickinessPolicy("app-sticky", "SESSIONID"), []);
const ssl = validatePolicy(
  create("ssl", "SSLNegotiationPolicyType", [attr("Reference-Security-Policy", DEFAULT_SECURITY_POLICY)]),
  [],
);
const proxy = validatePolicy(create("proxy", "ProxyProtocolPolicyType", [attr("ProxyProtocol", "true")]), []);
const auth = validatePolicy(
  create("auth", "BackendServerAuthenticationPolicyType", [attr("PublicKeyPolicyName", "pk")]),
  [publicKey],
);
const all: readonly LoadBalancerPolicy[] = [publicKey, lbSticky, appSticky, ssl, proxy, auth];

test("catalog: the six ELB policy types, each with its attributes", () => {
  assert.deepEqual(
    POLICY_TYPES.map((t) => t.policyTypeName),
    [
      "ProxyProtocolPolicyType",
      "PublicKeyPolicyType",
      "AppCookieStickinessPolicyType",
      "LBCookieStickinessPolicyType",
      "SSLNegotiationPolicyType",
      "BackendServerAuthenticationPolicyType",
    ],
  );
  for (const t of POLICY_TYPES) {
    assert.ok(t.description.length > 0);
    assert.ok(t.attributeTypes.length > 0, t.policyTypeName);
    const names = t.attributeTypes.map((a) => a.attributeName);
    assert.equal(new Set(names).size, names.length, `${t.policyTypeName} has no duplicate attributes`);
  }
  const card = (type: string, name: string) =>
    findPolicyType(type)?.attributeTypes.find((a) => a.attributeName === name)?.cardinality;
  assert.equal(card("ProxyProtocolPolicyType", "ProxyProtocol"), "ONE");
  assert.equal(card("LBCookieStickinessPolicyType", "CookieExpirationPeriod"), "ZERO_OR_ONE");
  assert.equal(card("AppCookieStickinessPolicyType", "CookieName"), "ONE");
  assert.equal(card("PublicKeyPolicyType", "PublicKey"), "ONE");
  assert.equal(card("BackendServerAuthenticationPolicyType", "PublicKeyPolicyName"), "ONE_OR_MORE");
  const sslNames =
    findPolicyType("SSLNegotiationPolicyType")?.attributeTypes.map((a) => a.attributeName) ?? [];
  for (const n of ["Protocol-SSLv3", "Protocol-TLSv1", "Protocol-TLSv1.1", "Protocol-TLSv1.2"])
    assert.ok(sslNames.includes(n));
  for (const n of ["Server-Defined-Cipher-Order", "Reference-Security-Policy", ...ELB_CIPHER_NAMES])
    assert.ok(sslNames.includes(n), n);
  assert.equal(ELB_CIPHER_NAMES.length, 88);
});

test("catalog: every predefined policy names only SSLNegotiationPolicyType attributes, true or false", () => {
  const sslType = findPolicyType("SSLNegotiationPolicyType");
  assert.ok(sslType);
  const known = new Set(sslType.attributeTypes.map((a) => a.attributeName));
  assert.equal(PREDEFINED_POLICIES.length, 11);
  for (const p of PREDEFINED_POLICIES) {
    assert.equal(p.policyTypeName, "SSLNegotiationPolicyType");
    for (const a of p.attributes) {
      assert.ok(known.has(a.name), `${p.policyName}: ${a.name}`);
      assert.ok(a.value === "true" || a.value === "false");
    }
  }
  for (const n of ["ELBSample-ELBDefaultNegotiationPolicy", "ELBSample-OpenSSLDefaultNegotiationPolicy"])
    assert.ok(predefinedPolicy(n), n);
  for (const elb of ELB_CIPHER_NAMES) assert.ok(OPENSSL_CIPHER_NAME.has(elb));
});

test("predefined TLS-1-2-2017-01 enables only TLSv1.2 and the twelve SHA-2 ciphers", () => {
  const on = predefinedPolicy("ELBSecurityPolicy-TLS-1-2-2017-01")
    ?.attributes.filter((a) => a.value === "true")
    .map((a) => a.name);
  assert.equal(on?.length, 14);
  assert.ok(on?.includes("Protocol-TLSv1.2") && !on.includes("Protocol-TLSv1.1"));
  assert.ok(on?.includes("Server-Defined-Cipher-Order") && !on.includes("AES128-SHA"));
});

for (const name of [
  "ELBSecurityPolicy-2016-08",
  "ELBSecurityPolicy-TLS-1-2-2017-01",
  "ELBSecurityPolicy-2015-05",
]) {
  test(`tlsOptionsFor(${name}) is accepted by node:tls`, () => {
    const p = predefinedPolicy(name);
    assert.ok(p);
    const o = tlsOptionsFor(p.attributes);
    assert.equal(o.honorCipherOrder, true);
    assert.equal(o.maxVersion, "TLSv1.2");
    const { minVersion, maxVersion, ciphers } = o;
    assert.doesNotThrow(() => tls.createSecureContext({ ciphers, minVersion, maxVersion }));
    for (const c of ciphers.split(":").filter((c) => !c.startsWith("@"))) assert.ok(!c.includes("DES"), c);
  });
}

test("tlsOptionsFor: version range, SECLEVEL for TLS<1.2, SSLv3 and unusable ciphers ignored", () => {
  const o = tlsOptionsFor(predefinedPolicy("ELBSecurityPolicy-2016-08")?.attributes ?? []);
  assert.equal(o.minVersion, "TLSv1");
  assert.match(o.ciphers, /^ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:/);
  assert.match(o.ciphers, /:@SECLEVEL=0$/);
  const t12 = tlsOptionsFor(predefinedPolicy("ELBSecurityPolicy-TLS-1-2-2017-01")?.attributes ?? []);
  assert.equal(t12.minVersion, "TLSv1.2");
  assert.ok(!t12.ciphers.includes("SECLEVEL"));
  const old = tlsOptionsFor(predefinedPolicy("ELBSecurityPolicy-2014-01")?.attributes ?? []);
  assert.ok(old.caveats.some((c) => c.startsWith("Protocol-SSLv3 ignored")));
  assert.ok(old.caveats.some((c) => c.startsWith("RC4-SHA ignored")));
  const gap = tlsOptionsFor([
    attr("Protocol-TLSv1", "true"),
    attr("Protocol-TLSv1.2", "true"),
    attr("AES128-SHA", "true"),
  ]);
  assert.deepEqual([gap.minVersion, gap.maxVersion, gap.honorCipherOrder], ["TLSv1", "TLSv1.2", false]);
  assert.ok(gap.caveats.includes("TLSv1.1 admitted: Node takes a version range"));
  const { minVersion, maxVersion, ciphers } = gap;
  assert.doesNotThrow(() => tls.createSecureContext({ ciphers, minVersion, maxVersion }));
});

test("validatePolicy: unknown type → PolicyTypeNotFound 400", () => {
  rejects(() => validatePolicy(create("x", "NoSuchPolicyType"), []), "PolicyTypeNotFound", 400);
});

test("validatePolicy: duplicate name on the load balancer → DuplicatePolicyName 400", () => {
  rejects(() => validatePolicy(lbCookieStickinessPolicy("lb-sticky"), all), "DuplicatePolicyName", 400);
});

test("validatePolicy: attribute not in the type → InvalidConfigurationRequest 409", () => {
  rejects(
    () =>
      validatePolicy(
        create("x", "ProxyProtocolPolicyType", [attr("ProxyProtocol", "true"), attr("Foo", "1")]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
    /'Foo'.*ProxyProtocolPolicyType/,
  );
});

test("validatePolicy: cardinality ONE missing or repeated → InvalidConfigurationRequest", () => {
  rejects(
    () => validatePolicy(create("x", "ProxyProtocolPolicyType"), []),
    "InvalidConfigurationRequest",
    409,
    /ProxyProtocol/,
  );
  rejects(() => validatePolicy(create("x", "PublicKeyPolicyType"), []), "InvalidConfigurationRequest", 409);
  rejects(
    () => validatePolicy(create("x", "BackendServerAuthenticationPolicyType"), [publicKey]),
    "InvalidConfigurationRequest",
    409,
  );
  rejects(
    () =>
      validatePolicy(
        create("x", "AppCookieStickinessPolicyType", [attr("CookieName", "a"), attr("CookieName", "b")]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
  );
});

test("validatePolicy: Boolean and Long values are checked and normalised", () => {
  rejects(
    () => validatePolicy(create("x", "ProxyProtocolPolicyType", [attr("ProxyProtocol", "yes")]), []),
    "InvalidConfigurationRequest",
    409,
  );
  rejects(
    () =>
      validatePolicy(
        create("x", "LBCookieStickinessPolicyType", [attr("CookieExpirationPeriod", "1.5")]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
  );
  const p = validatePolicy(create("x", "ProxyProtocolPolicyType", [attr("ProxyProtocol", "TRUE")]), []);
  assert.deepEqual(p.attributes, [attr("ProxyProtocol", "true")]);
});

test("validatePolicy: CookieExpirationPeriod ≥ 0 (0 or absent = browser session), CookieName non-empty", () => {
  rejects(() => validatePolicy(lbCookieStickinessPolicy("x", -1), []), "InvalidConfigurationRequest", 409);
  assert.deepEqual(validatePolicy(lbCookieStickinessPolicy("x", 0), []).attributes, [
    attr("CookieExpirationPeriod", "0"),
  ]);
  assert.deepEqual(validatePolicy(lbCookieStickinessPolicy("x"), []).attributes, []);
  rejects(() => validatePolicy(appCookieStickinessPolicy("x", ""), []), "InvalidConfigurationRequest", 409);
  assert.equal(lbSticky.policyTypeName, "LBCookieStickinessPolicyType");
  assert.equal(appSticky.attributes[0]?.value, "SESSIONID");
});

test("validatePolicy: Reference-Security-Policy expands to the predefined policy", () => {
  assert.deepEqual(ssl.attributes[0], attr("Reference-Security-Policy", DEFAULT_SECURITY_POLICY));
  assert.deepEqual(ssl.attributes.slice(1), predefinedPolicy(DEFAULT_SECURITY_POLICY)?.attributes);
  rejects(
    () =>
      validatePolicy(
        create("x", "SSLNegotiationPolicyType", [
          attr("Reference-Security-Policy", "ELBSecurityPolicy-1999-01"),
        ]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
    /ELBSecurityPolicy-1999-01/,
  );
  rejects(
    () =>
      validatePolicy(
        create("x", "SSLNegotiationPolicyType", [
          attr("Reference-Security-Policy", DEFAULT_SECURITY_POLICY),
          attr("RC4-SHA", "true"),
        ]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
  );
});

test("validatePolicy: a custom SSL policy must leave Ballast a protocol and a cipher to serve", () => {
  const custom = validatePolicy(
    create("x", "SSLNegotiationPolicyType", [
      attr("Protocol-TLSv1.2", "true"),
      attr("ECDHE-RSA-AES128-GCM-SHA256", "true"),
    ]),
    [],
  );
  assert.equal(custom.attributes.length, 2);
  rejects(
    () =>
      validatePolicy(
        create("x", "SSLNegotiationPolicyType", [attr("Protocol-SSLv3", "true"), attr("AES128-SHA", "true")]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
  );
  rejects(
    () =>
      validatePolicy(
        create("x", "SSLNegotiationPolicyType", [attr("Protocol-TLSv1.2", "true"), attr("RC4-SHA", "true")]),
        [],
      ),
    "InvalidConfigurationRequest",
    409,
  );
});

test("validatePolicy: PublicKeyPolicyName must name a PublicKeyPolicyType policy on the load balancer", () => {
  const authType = "BackendServerAuthenticationPolicyType";
  rejects(
    () => validatePolicy(create("x", authType, [attr("PublicKeyPolicyName", "missing")]), all),
    "InvalidConfigurationRequest",
    409,
  );
  rejects(
    () => validatePolicy(create("x", authType, [attr("PublicKeyPolicyName", "proxy")]), all),
    "InvalidConfigurationRequest",
    409,
  );
  assert.deepEqual(policiesReferencing("pk", all), ["auth"]);
});

test("listener policies: stickiness on HTTP/HTTPS, SSL negotiation on HTTPS/SSL, one of each kind", () => {
  assert.equal(validateListenerPolicies("HTTPS", ["lb-sticky", "ssl"], all).length, 2);
  assert.equal(validateListenerPolicies("HTTP", ["app-sticky"], all).length, 1);
  assert.equal(validateListenerPolicies("SSL", ["ssl"], all).length, 1);
  assert.equal(validateListenerPolicies("TCP", [], all).length, 0);
  rejects(() => validateListenerPolicies("TCP", ["lb-sticky"], all), "InvalidConfigurationRequest", 409);
  rejects(() => validateListenerPolicies("SSL", ["lb-sticky"], all), "InvalidConfigurationRequest", 409);
  rejects(() => validateListenerPolicies("HTTP", ["ssl"], all), "InvalidConfigurationRequest", 409);
  rejects(() => validateListenerPolicies("HTTPS", ["proxy"], all), "InvalidConfigurationRequest", 409);
  rejects(
    () => validateListenerPolicies("HTTPS", ["lb-sticky", "app-sticky"], all),
    "InvalidConfigurationRequest",
    409,
  );
  rejects(() => validateListenerPolicies("HTTPS", ["nope"], all), "PolicyNotFound", 400);
});

test("back-end server policies: ProxyProtocol and BackendServerAuthentication only", () => {
  assert.equal(validateBackendServerPolicies(["proxy", "auth"], all).length, 2);
  rejects(() => validateBackendServerPolicies(["pk"], all), "InvalidConfigurationRequest", 409);
  rejects(() => validateBackendServerPolicies(["lb-sticky"], all), "InvalidConfigurationRequest", 409);
  assert.equal(policyKindFor("ssl", all), "ssl-negotiation");
  rejects(() => policyKindFor("nope", all), "PolicyNotFound", 400);
});
