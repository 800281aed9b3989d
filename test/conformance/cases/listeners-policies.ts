/**
 * Listener and policy actions. The conformance server seeds two certificates
 * (support/server.ts), so HTTPS rows run through every client too.
 */
import assert from "node:assert/strict";
import { at, type Json, list, str } from "../support/json.js";
import { SEEDED_CERTIFICATE_ARNS } from "../support/server.js";
import type { CaseContext, ConformanceCase, Params, Step } from "../support/table.js";
import { CREATE, fails, LB } from "./common.js";

const UNKNOWN_CERT = "arn:aws:iam::000000000000:server-certificate/not-uploaded";
const [CERT_A = "", CERT_B = ""] = SEEDED_CERTIFICATE_ARNS;
const http = (port: number, instancePort = 8080) => ({
  Protocol: "HTTP",
  LoadBalancerPort: port,
  InstanceProtocol: "HTTP",
  InstancePort: instancePort,
});

function step(action: string, params: Params): Step {
  return { action, params: { LoadBalancerName: LB, ...params } };
}
const LB_COOKIE = step("CreateLBCookieStickinessPolicy", {
  PolicyName: "lb-cookie",
  CookieExpirationPeriod: 60,
});
const PROXY = step("CreateLoadBalancerPolicy", {
  PolicyName: "proxy",
  PolicyTypeName: "ProxyProtocolPolicyType",
  PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "true" }],
});
const ON_LISTENER = step("SetLoadBalancerPoliciesOfListener", {
  LoadBalancerPort: 80,
  PolicyNames: ["lb-cookie"],
});
const HTTPS_LISTENER = step("CreateLoadBalancerListeners", {
  Listeners: [
    {
      Protocol: "HTTPS",
      LoadBalancerPort: 443,
      InstanceProtocol: "HTTP",
      InstancePort: 8080,
      SSLCertificateId: CERT_A,
    },
  ],
});
/** 100 policies: the most one load balancer may have. */
const FULL: readonly Step[] = Array.from({ length: 100 }, (_, i) =>
  step("CreateLBCookieStickinessPolicy", { PolicyName: `p${i}` }),
);

async function describeLb(call: CaseContext["call"], lb: string): Promise<Json> {
  const d = await call("DescribeLoadBalancers", { LoadBalancerNames: [lb] });
  assert.equal(d.kind, "ok");
  return d.kind === "ok" ? (list(d.output, "LoadBalancerDescriptions")[0] ?? null) : null;
}

function row(
  action: string,
  name: string,
  params: Params,
  expect: ConformanceCase["expect"],
  setup: readonly Step[] = [CREATE],
): ConformanceCase {
  return { action, name, setup, params: { LoadBalancerName: LB, ...params }, expect };
}

const err = (
  action: string,
  code: string,
  params: Params,
  setup?: readonly Step[],
  status = 400,
  name = code,
) => row(action, name, params, fails(code, status), setup);

export const listenerCases: readonly ConformanceCase[] = [
  row(
    "CreateLoadBalancerListeners",
    "an HTTP listener is added and described",
    { Listeners: [http(81, 8081)] },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        const ports = list(d, "ListenerDescriptions").map((l) => at(l, "Listener", "LoadBalancerPort"));
        assert.deepEqual(ports, [80, 81]);
      },
    },
  ),
  row(
    "CreateLoadBalancerListeners",
    "the same listener again changes nothing",
    { Listeners: [http(80)] },
    { revisions: 0, ok: () => {} },
  ),
  err("CreateLoadBalancerListeners", "DuplicateListener", { Listeners: [http(80, 9090)] }),
  err("CreateLoadBalancerListeners", "LoadBalancerNotFound", { Listeners: [http(81)] }, []),
  err("CreateLoadBalancerListeners", "CertificateNotFound", {
    Listeners: [
      { Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 8443, SSLCertificateId: UNKNOWN_CERT },
    ],
  }),
  err(
    "CreateLoadBalancerListeners",
    "InvalidConfigurationRequest",
    { Listeners: [{ Protocol: "TCP", LoadBalancerPort: 81, InstanceProtocol: "SSL", InstancePort: 8080 }] },
    [CREATE],
    409,
    "InvalidConfigurationRequest: encrypted and plain back ends on one instance port",
  ),
  row(
    "DeleteLoadBalancerListeners",
    "a listener is removed; a port without one is ignored",
    { LoadBalancerPorts: [81, 9999] },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        assert.deepEqual(
          list(d, "ListenerDescriptions").map((l) => at(l, "Listener", "LoadBalancerPort")),
          [80],
        );
      },
    },
    [CREATE, step("CreateLoadBalancerListeners", { Listeners: [http(81)] })],
  ),
  err("DeleteLoadBalancerListeners", "LoadBalancerNotFound", { LoadBalancerPorts: [80] }, []),
  row(
    "SetLoadBalancerListenerSSLCertificate",
    "the certificate of an HTTPS listener is replaced",
    { LoadBalancerPort: 443, SSLCertificateId: CERT_B },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        const https = list(d, "ListenerDescriptions").find(
          (l) => at(l, "Listener", "LoadBalancerPort") === 443,
        );
        assert.equal(str(at(https ?? null, "Listener", "SSLCertificateId")), CERT_B);
      },
    },
    [CREATE, HTTPS_LISTENER],
  ),
  err(
    "SetLoadBalancerListenerSSLCertificate",
    "CertificateNotFound",
    { LoadBalancerPort: 443, SSLCertificateId: UNKNOWN_CERT },
    [CREATE, HTTPS_LISTENER],
  ),
  err(
    "SetLoadBalancerListenerSSLCertificate",
    "LoadBalancerNotFound",
    { LoadBalancerPort: 80, SSLCertificateId: UNKNOWN_CERT },
    [],
  ),
  err("SetLoadBalancerListenerSSLCertificate", "ListenerNotFound", {
    LoadBalancerPort: 443,
    SSLCertificateId: UNKNOWN_CERT,
  }),
  err(
    "SetLoadBalancerListenerSSLCertificate",
    "InvalidConfigurationRequest",
    { LoadBalancerPort: 80, SSLCertificateId: UNKNOWN_CERT },
    [CREATE],
    409,
    "InvalidConfigurationRequest: an HTTP listener takes no certificate",
  ),
];

export const policyCases: readonly ConformanceCase[] = [
  row(
    "CreateLoadBalancerPolicy",
    "a ProxyProtocol policy is stored and described",
    {
      PolicyName: "proxy",
      PolicyTypeName: "ProxyProtocolPolicyType",
      PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "true" }],
    },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        assert.deepEqual(list(d, "Policies", "OtherPolicies"), ["proxy"]);
      },
    },
  ),
  err(
    "CreateLoadBalancerPolicy",
    "LoadBalancerNotFound",
    { PolicyName: "p", PolicyTypeName: "ProxyProtocolPolicyType" },
    [],
  ),
  err("CreateLoadBalancerPolicy", "PolicyTypeNotFound", {
    PolicyName: "p",
    PolicyTypeName: "NoSuchPolicyType",
  }),
  err(
    "CreateLoadBalancerPolicy",
    "DuplicatePolicyName",
    {
      PolicyName: "proxy",
      PolicyTypeName: "ProxyProtocolPolicyType",
      PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "true" }],
    },
    [CREATE, PROXY],
  ),
  err(
    "CreateLoadBalancerPolicy",
    "InvalidConfigurationRequest",
    {
      PolicyName: "p",
      PolicyTypeName: "ProxyProtocolPolicyType",
      PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "maybe" }],
    },
    [CREATE],
    409,
  ),
  err(
    "CreateLoadBalancerPolicy",
    "TooManyPolicies",
    { PolicyName: "one-more", PolicyTypeName: "LBCookieStickinessPolicyType" },
    [CREATE, ...FULL],
  ),
  row(
    "CreateAppCookieStickinessPolicy",
    "listed among AppCookieStickinessPolicies",
    { PolicyName: "app", CookieName: "JSESSIONID" },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        assert.deepEqual(at(d, "Policies", "AppCookieStickinessPolicies"), [
          { PolicyName: "app", CookieName: "JSESSIONID" },
        ]);
      },
    },
  ),
  err("CreateAppCookieStickinessPolicy", "LoadBalancerNotFound", { PolicyName: "app", CookieName: "c" }, []),
  err(
    "CreateAppCookieStickinessPolicy",
    "DuplicatePolicyName",
    { PolicyName: "lb-cookie", CookieName: "c" },
    [CREATE, LB_COOKIE],
  ),
  err(
    "CreateAppCookieStickinessPolicy",
    "InvalidConfigurationRequest",
    { PolicyName: "app", CookieName: "" },
    [CREATE],
    409,
  ),
  err("CreateAppCookieStickinessPolicy", "TooManyPolicies", { PolicyName: "one-more", CookieName: "c" }, [
    CREATE,
    ...FULL,
  ]),
  row(
    "CreateLBCookieStickinessPolicy",
    "listed among LBCookieStickinessPolicies",
    { PolicyName: "lb-cookie", CookieExpirationPeriod: 60 },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) => {
        const d = await describeLb(call, lb);
        assert.deepEqual(at(d, "Policies", "LBCookieStickinessPolicies"), [
          { PolicyName: "lb-cookie", CookieExpirationPeriod: 60 },
        ]);
      },
    },
  ),
  err("CreateLBCookieStickinessPolicy", "LoadBalancerNotFound", { PolicyName: "x" }, []),
  err("CreateLBCookieStickinessPolicy", "DuplicatePolicyName", { PolicyName: "lb-cookie" }, [
    CREATE,
    LB_COOKIE,
  ]),
  err(
    "CreateLBCookieStickinessPolicy",
    "InvalidConfigurationRequest",
    { PolicyName: "neg", CookieExpirationPeriod: -1 },
    [CREATE],
    409,
  ),
  err("CreateLBCookieStickinessPolicy", "TooManyPolicies", { PolicyName: "one-more" }, [CREATE, ...FULL]),
  row(
    "DeleteLoadBalancerPolicy",
    "an unused policy is deleted",
    { PolicyName: "proxy" },
    { revisions: 1, ok: () => {} },
    [CREATE, PROXY],
  ),
  row(
    "DeleteLoadBalancerPolicy",
    "a missing policy succeeds and changes nothing",
    { PolicyName: "none" },
    { revisions: 0, ok: () => {} },
  ),
  err("DeleteLoadBalancerPolicy", "LoadBalancerNotFound", { PolicyName: "p" }, []),
  err(
    "DeleteLoadBalancerPolicy",
    "InvalidConfigurationRequest",
    { PolicyName: "lb-cookie" },
    [CREATE, LB_COOKIE, ON_LISTENER],
    409,
    "InvalidConfigurationRequest: in use by a listener",
  ),
  row(
    "DescribeLoadBalancerPolicies",
    "the load balancer's policies",
    {},
    {
      ok: (out) =>
        assert.deepEqual(
          list(out, "PolicyDescriptions").map((p) => str(p, "PolicyName")),
          ["lb-cookie", "proxy"],
        ),
    },
    [CREATE, LB_COOKIE, PROXY],
  ),
  {
    action: "DescribeLoadBalancerPolicies",
    name: "without a load balancer: the predefined policies",
    params: { PolicyNames: ["ELBSecurityPolicy-2016-08"] },
    expect: {
      ok: (out) =>
        assert.equal(str(out, "PolicyDescriptions", 0, "PolicyTypeName"), "SSLNegotiationPolicyType"),
    },
  },
  err("DescribeLoadBalancerPolicies", "LoadBalancerNotFound", {}, []),
  err("DescribeLoadBalancerPolicies", "PolicyNotFound", { PolicyNames: ["nope"] }),
  {
    action: "DescribeLoadBalancerPolicyTypes",
    name: "all six types",
    params: {},
    expect: { ok: (out) => assert.equal(list(out, "PolicyTypeDescriptions").length, 6) },
  },
  {
    action: "DescribeLoadBalancerPolicyTypes",
    name: "PolicyTypeNotFound",
    params: { PolicyTypeNames: ["Nope"] },
    expect: fails("PolicyTypeNotFound"),
  },
  row(
    "SetLoadBalancerPoliciesOfListener",
    "a stickiness policy on the HTTP listener, shown in ListenerDescriptions",
    { LoadBalancerPort: 80, PolicyNames: ["lb-cookie"] },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) =>
        assert.deepEqual(list(await describeLb(call, lb), "ListenerDescriptions", 0, "PolicyNames"), [
          "lb-cookie",
        ]),
    },
    [CREATE, LB_COOKIE],
  ),
  row(
    "SetLoadBalancerPoliciesOfListener",
    "an empty list clears",
    { LoadBalancerPort: 80, PolicyNames: [] },
    { revisions: 1, ok: () => {} },
    [CREATE, LB_COOKIE, ON_LISTENER],
  ),
  err(
    "SetLoadBalancerPoliciesOfListener",
    "LoadBalancerNotFound",
    { LoadBalancerPort: 80, PolicyNames: [] },
    [],
  ),
  err(
    "SetLoadBalancerPoliciesOfListener",
    "ListenerNotFound",
    { LoadBalancerPort: 81, PolicyNames: ["lb-cookie"] },
    [CREATE, LB_COOKIE],
  ),
  err("SetLoadBalancerPoliciesOfListener", "PolicyNotFound", { LoadBalancerPort: 80, PolicyNames: ["nope"] }),
  err(
    "SetLoadBalancerPoliciesOfListener",
    "InvalidConfigurationRequest",
    { LoadBalancerPort: 80, PolicyNames: ["proxy"] },
    [CREATE, PROXY],
    409,
  ),
  row(
    "SetLoadBalancerPoliciesForBackendServer",
    "ProxyProtocol on an instance port, shown in BackendServerDescriptions",
    { InstancePort: 8080, PolicyNames: ["proxy"] },
    {
      revisions: 1,
      ok: async (_out, { lb, call }) =>
        assert.deepEqual(list(await describeLb(call, lb), "BackendServerDescriptions"), [
          { InstancePort: 8080, PolicyNames: ["proxy"] },
        ]),
    },
    [CREATE, PROXY],
  ),
  err(
    "SetLoadBalancerPoliciesForBackendServer",
    "LoadBalancerNotFound",
    { InstancePort: 8080, PolicyNames: [] },
    [],
  ),
  err("SetLoadBalancerPoliciesForBackendServer", "PolicyNotFound", {
    InstancePort: 8080,
    PolicyNames: ["nope"],
  }),
  err(
    "SetLoadBalancerPoliciesForBackendServer",
    "InvalidConfigurationRequest",
    { InstancePort: 8080, PolicyNames: ["lb-cookie"] },
    [CREATE, LB_COOKIE],
    409,
  ),
];
