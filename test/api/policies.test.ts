/** The policy actions and their effect on DescribeLoadBalancers, through the AWS SDK. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateAppCookieStickinessPolicyCommand,
  CreateLBCookieStickinessPolicyCommand,
  CreateLoadBalancerCommand,
  CreateLoadBalancerPolicyCommand,
  type CreateLoadBalancerPolicyCommandInput,
  DeleteLoadBalancerPolicyCommand,
  DescribeLoadBalancerPoliciesCommand,
  DescribeLoadBalancerPolicyTypesCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  SetLoadBalancerPoliciesForBackendServerCommand,
  SetLoadBalancerPoliciesOfListenerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { MAX_POLICIES_PER_LOAD_BALANCER } from "../../src/api/aws-query/actions/policies.js";
import { validateCertificateUpload } from "../../src/model/certificates.js";
import { selfSignedCert } from "../support/certs.js";
import { READER_KEY, sdkError, startTestServer, type TestServer } from "./support.js";

const META = { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "Seed" };

describe("policies through the AWS SDK", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  let arn: string;

  before(async () => {
    server = await startTestServer();
    elb = server.client();
    const pair = selfSignedCert("p.example.test");
    const cert = validateCertificateUpload(
      { name: "p", certificateBody: pair.cert, privateKey: pair.key },
      "2026-01-01T00:00:00.000Z",
    );
    arn = cert.arn;
    await server.store.mutate(META, async (tx) => tx.put("certificate", cert.arn, cert));
  });
  after(async () => {
    await server.close();
  });

  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  async function create(name: string): Promise<void> {
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: name,
        Listeners: [
          { Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 },
          { Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 8080, SSLCertificateId: arn },
          { Protocol: "TCP", LoadBalancerPort: 5000, InstancePort: 5000 },
        ],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
  }

  const policy = (name: string, over: Partial<CreateLoadBalancerPolicyCommandInput>) =>
    elb.send(
      new CreateLoadBalancerPolicyCommand({
        LoadBalancerName: name,
        PolicyName: "p",
        PolicyTypeName: "ProxyProtocolPolicyType",
        ...over,
      }),
    );

  /** The standard set: one policy of every kind. */
  async function createAll(name: string): Promise<void> {
    await elb.send(
      new CreateLBCookieStickinessPolicyCommand({
        LoadBalancerName: name,
        PolicyName: "lb-cookie",
        CookieExpirationPeriod: 60,
      }),
    );
    await elb.send(
      new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: name, PolicyName: "session-cookie" }),
    );
    await elb.send(
      new CreateAppCookieStickinessPolicyCommand({
        LoadBalancerName: name,
        PolicyName: "app-cookie",
        CookieName: "JSESSIONID",
      }),
    );
    await policy(name, {
      PolicyName: "proxy",
      PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "true" }],
    });
    await policy(name, {
      PolicyName: "tls",
      PolicyTypeName: "SSLNegotiationPolicyType",
      PolicyAttributes: [
        { AttributeName: "Reference-Security-Policy", AttributeValue: "ELBSecurityPolicy-2016-08" },
      ],
    });
    await policy(name, {
      PolicyName: "key",
      PolicyTypeName: "PublicKeyPolicyType",
      PolicyAttributes: [{ AttributeName: "PublicKey", AttributeValue: "MIIBIjANBgkq" }],
    });
    await policy(name, {
      PolicyName: "auth",
      PolicyTypeName: "BackendServerAuthenticationPolicyType",
      PolicyAttributes: [{ AttributeName: "PublicKeyPolicyName", AttributeValue: "key" }],
    });
  }

  async function describeLb(name: string) {
    const out = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] }));
    const d = out.LoadBalancerDescriptions?.[0];
    assert.ok(d);
    return d;
  }

  test("DescribeLoadBalancerPolicyTypes: all six, or by name; an unknown name is PolicyTypeNotFound", async () => {
    const all = await elb.send(new DescribeLoadBalancerPolicyTypesCommand({}));
    assert.deepEqual(
      all.PolicyTypeDescriptions?.map((t) => t.PolicyTypeName),
      [
        "ProxyProtocolPolicyType",
        "PublicKeyPolicyType",
        "AppCookieStickinessPolicyType",
        "LBCookieStickinessPolicyType",
        "SSLNegotiationPolicyType",
        "BackendServerAuthenticationPolicyType",
      ],
    );
    const one = await elb.send(
      new DescribeLoadBalancerPolicyTypesCommand({ PolicyTypeNames: ["LBCookieStickinessPolicyType"] }),
    );
    assert.deepEqual(one.PolicyTypeDescriptions?.[0]?.PolicyAttributeTypeDescriptions, [
      { AttributeName: "CookieExpirationPeriod", AttributeType: "Long", Cardinality: "ZERO_OR_ONE" },
    ]);
    assert.match(one.PolicyTypeDescriptions?.[0]?.Description ?? "", /Stickiness policy/);
    await rejects(
      () => elb.send(new DescribeLoadBalancerPolicyTypesCommand({ PolicyTypeNames: ["NoSuchPolicyType"] })),
      "PolicyTypeNotFound",
    );
  });

  test("DescribeLoadBalancerPolicies without a load balancer: the predefined policies", async () => {
    const all = await elb.send(new DescribeLoadBalancerPoliciesCommand({}));
    const names = all.PolicyDescriptions?.map((p) => p.PolicyName) ?? [];
    assert.ok(names.includes("ELBSecurityPolicy-2016-08"));
    assert.ok(names.includes("ELBSecurityPolicy-TLS-1-2-2017-01"));
    assert.ok(names.some((n) => n?.startsWith("ELBSample-")));
    const one = await elb.send(
      new DescribeLoadBalancerPoliciesCommand({ PolicyNames: ["ELBSecurityPolicy-TLS-1-2-2017-01"] }),
    );
    const d = one.PolicyDescriptions?.[0];
    assert.equal(d?.PolicyTypeName, "SSLNegotiationPolicyType");
    const attr = (n: string) =>
      d?.PolicyAttributeDescriptions?.find((a) => a.AttributeName === n)?.AttributeValue;
    assert.equal(attr("Protocol-TLSv1.2"), "true");
    assert.equal(attr("Protocol-TLSv1"), "false");
    await rejects(
      () => elb.send(new DescribeLoadBalancerPoliciesCommand({ PolicyNames: ["ELBSecurityPolicy-1999"] })),
      "PolicyNotFound",
    );
  });

  test("the Create actions store policies; Describe shows them by load balancer and by name", async () => {
    await create("pol");
    const head = await server.store.head();
    await createAll("pol");
    assert.equal(await server.store.head(), head + 7, "one revision per policy");
    const all = await elb.send(new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "pol" }));
    assert.deepEqual(
      all.PolicyDescriptions?.map((p) => [p.PolicyName, p.PolicyTypeName]),
      [
        ["lb-cookie", "LBCookieStickinessPolicyType"],
        ["session-cookie", "LBCookieStickinessPolicyType"],
        ["app-cookie", "AppCookieStickinessPolicyType"],
        ["proxy", "ProxyProtocolPolicyType"],
        ["tls", "SSLNegotiationPolicyType"],
        ["key", "PublicKeyPolicyType"],
        ["auth", "BackendServerAuthenticationPolicyType"],
      ],
    );
    const some = await elb.send(
      new DescribeLoadBalancerPoliciesCommand({
        LoadBalancerName: "pol",
        PolicyNames: ["app-cookie", "lb-cookie"],
      }),
    );
    assert.deepEqual(some.PolicyDescriptions, [
      {
        PolicyName: "app-cookie",
        PolicyTypeName: "AppCookieStickinessPolicyType",
        PolicyAttributeDescriptions: [{ AttributeName: "CookieName", AttributeValue: "JSESSIONID" }],
      },
      {
        PolicyName: "lb-cookie",
        PolicyTypeName: "LBCookieStickinessPolicyType",
        PolicyAttributeDescriptions: [{ AttributeName: "CookieExpirationPeriod", AttributeValue: "60" }],
      },
    ]);
    // The reference is stored followed by the referenced policy's attributes.
    const tls = await elb.send(
      new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "pol", PolicyNames: ["tls"] }),
    );
    const attrs = tls.PolicyDescriptions?.[0]?.PolicyAttributeDescriptions ?? [];
    assert.equal(attrs[0]?.AttributeName, "Reference-Security-Policy");
    assert.ok(attrs.some((a) => a.AttributeName === "Protocol-TLSv1.2" && a.AttributeValue === "true"));
    await rejects(
      () =>
        elb.send(new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "pol", PolicyNames: ["nope"] })),
      "PolicyNotFound",
    );
    await rejects(
      () => elb.send(new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "no-such-lb" })),
      "LoadBalancerNotFound",
    );
    // DescribeLoadBalancers groups them as ELB does.
    const d = await describeLb("pol");
    assert.deepEqual(d.Policies, {
      AppCookieStickinessPolicies: [{ PolicyName: "app-cookie", CookieName: "JSESSIONID" }],
      LBCookieStickinessPolicies: [
        { PolicyName: "lb-cookie", CookieExpirationPeriod: 60 },
        { PolicyName: "session-cookie" },
      ],
      OtherPolicies: ["proxy", "tls", "key", "auth"],
    });
  });

  test("Create errors: LoadBalancerNotFound, DuplicatePolicyName, PolicyTypeNotFound, InvalidConfigurationRequest", async () => {
    await create("polerr");
    await elb.send(
      new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: "polerr", PolicyName: "taken" }),
    );
    await rejects(
      () =>
        elb.send(new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: "nope", PolicyName: "x" })),
      "LoadBalancerNotFound",
    );
    await rejects(
      () =>
        elb.send(
          new CreateAppCookieStickinessPolicyCommand({
            LoadBalancerName: "nope",
            PolicyName: "x",
            CookieName: "c",
          }),
        ),
      "LoadBalancerNotFound",
    );
    await rejects(() => policy("nope", { PolicyName: "x" }), "LoadBalancerNotFound");
    await rejects(
      () =>
        elb.send(
          new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: "polerr", PolicyName: "taken" }),
        ),
      "DuplicatePolicyName",
    );
    await rejects(
      () =>
        elb.send(
          new CreateAppCookieStickinessPolicyCommand({
            LoadBalancerName: "polerr",
            PolicyName: "taken",
            CookieName: "c",
          }),
        ),
      "DuplicatePolicyName",
    );
    await rejects(() => policy("polerr", { PolicyName: "taken" }), "DuplicatePolicyName");
    await rejects(() => policy("polerr", { PolicyTypeName: "NoSuchType" }), "PolicyTypeNotFound");
    // ProxyProtocol is required (cardinality ONE), must be a Boolean, and is the only attribute.
    await rejects(() => policy("polerr", {}), "InvalidConfigurationRequest", 409);
    await rejects(
      () =>
        policy("polerr", { PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "maybe" }] }),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () => policy("polerr", { PolicyAttributes: [{ AttributeName: "Color", AttributeValue: "red" }] }),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () =>
        elb.send(
          new CreateLBCookieStickinessPolicyCommand({
            LoadBalancerName: "polerr",
            PolicyName: "neg",
            CookieExpirationPeriod: -1,
          }),
        ),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () =>
        elb.send(
          new CreateAppCookieStickinessPolicyCommand({
            LoadBalancerName: "polerr",
            PolicyName: "e",
            CookieName: "",
          }),
        ),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () =>
        policy("polerr", {
          PolicyName: "",
          PolicyAttributes: [{ AttributeName: "ProxyProtocol", AttributeValue: "true" }],
        }),
      "ValidationError",
    );
    await rejects(
      () =>
        policy("polerr", {
          PolicyName: "auth",
          PolicyTypeName: "BackendServerAuthenticationPolicyType",
          PolicyAttributes: [{ AttributeName: "PublicKeyPolicyName", AttributeValue: "no-such-key" }],
        }),
      "InvalidConfigurationRequest",
      409,
    );
  });

  test(`TooManyPolicies past ${MAX_POLICIES_PER_LOAD_BALANCER} policies on one load balancer`, async () => {
    await create("full");
    await server.store.mutate(META, async (tx) => {
      const lb = await tx.get("loadBalancer", "full");
      assert.ok(lb);
      const policies = Array.from({ length: MAX_POLICIES_PER_LOAD_BALANCER }, (_, i) => ({
        policyName: `p${i}`,
        policyTypeName: "LBCookieStickinessPolicyType",
        attributes: [],
      }));
      tx.put("loadBalancer", "full", { ...lb, policies });
    });
    await rejects(
      () =>
        elb.send(
          new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: "full", PolicyName: "one-more" }),
        ),
      "TooManyPolicies",
    );
  });

  test("SetLoadBalancerPoliciesOfListener sets, shows in DescribeLoadBalancers, and an empty list clears", async () => {
    await create("lis");
    await createAll("lis");
    const set = (port: number, names: string[], lb = "lis") =>
      elb.send(
        new SetLoadBalancerPoliciesOfListenerCommand({
          LoadBalancerName: lb,
          LoadBalancerPort: port,
          PolicyNames: names,
        }),
      );
    await set(80, ["lb-cookie"]);
    await set(443, ["app-cookie", "tls"]);
    const d = await describeLb("lis");
    assert.deepEqual(
      d.ListenerDescriptions?.map((l) => [l.Listener?.LoadBalancerPort, l.PolicyNames]),
      [
        [80, ["lb-cookie"]],
        [443, ["app-cookie", "tls"]],
        [5000, []],
      ],
    );
    const stored = (await server.store.get("loadBalancer", "lis"))?.doc;
    assert.deepEqual(stored?.listeners[1]?.policyNames, ["app-cookie", "tls"]);

    await rejects(() => set(80, ["lb-cookie"], "nope"), "LoadBalancerNotFound");
    await rejects(() => set(81, ["lb-cookie"]), "ListenerNotFound");
    await rejects(() => set(80, ["no-such-policy"]), "PolicyNotFound");
    await rejects(() => set(80, ["proxy"]), "InvalidConfigurationRequest", 409);
    await rejects(() => set(80, ["tls"]), "InvalidConfigurationRequest", 409);
    await rejects(() => set(80, ["lb-cookie", "app-cookie"]), "InvalidConfigurationRequest", 409);
    await rejects(() => set(5000, ["lb-cookie"]), "InvalidConfigurationRequest", 409);

    await set(80, []);
    const cleared = await describeLb("lis");
    assert.deepEqual(cleared.ListenerDescriptions?.[0]?.PolicyNames, []);
    const doc = (await server.store.get("loadBalancer", "lis"))?.doc;
    assert.equal(doc?.listeners[0]?.policyNames, undefined);
  });

  test("SetLoadBalancerPoliciesForBackendServer sets, shows in BackendServerDescriptions, and an empty list clears", async () => {
    await create("be");
    await createAll("be");
    const set = (port: number, names: string[], lb = "be") =>
      elb.send(
        new SetLoadBalancerPoliciesForBackendServerCommand({
          LoadBalancerName: lb,
          InstancePort: port,
          PolicyNames: names,
        }),
      );
    await set(8443, ["auth"]);
    await set(5000, ["proxy"]);
    const d = await describeLb("be");
    assert.deepEqual(d.BackendServerDescriptions, [
      { InstancePort: 5000, PolicyNames: ["proxy"] },
      { InstancePort: 8443, PolicyNames: ["auth"] },
    ]);
    await rejects(() => set(5000, ["proxy"], "nope"), "LoadBalancerNotFound");
    await rejects(() => set(5000, ["nope"]), "PolicyNotFound");
    await rejects(() => set(5000, ["lb-cookie"]), "InvalidConfigurationRequest", 409);
    await rejects(() => set(5000, ["key"]), "InvalidConfigurationRequest", 409);
    await rejects(() => set(0, ["proxy"]), "ValidationError");
    await set(5000, []);
    await set(8443, []);
    assert.deepEqual((await describeLb("be")).BackendServerDescriptions, []);
    assert.equal((await server.store.get("loadBalancer", "be"))?.doc.backendServerPolicies, undefined);
  });

  test("DeleteLoadBalancerPolicy: refused while in use, then deleted; a missing policy succeeds", async () => {
    await create("del");
    await createAll("del");
    await elb.send(
      new SetLoadBalancerPoliciesOfListenerCommand({
        LoadBalancerName: "del",
        LoadBalancerPort: 80,
        PolicyNames: ["lb-cookie"],
      }),
    );
    await elb.send(
      new SetLoadBalancerPoliciesForBackendServerCommand({
        LoadBalancerName: "del",
        InstancePort: 8443,
        PolicyNames: ["auth"],
      }),
    );
    const del = (policyName: string, lb = "del") =>
      elb.send(new DeleteLoadBalancerPolicyCommand({ LoadBalancerName: lb, PolicyName: policyName }));
    assert.match(
      await rejects(() => del("lb-cookie"), "InvalidConfigurationRequest", 409),
      /listener on port 80/,
    );
    assert.match(
      await rejects(() => del("auth"), "InvalidConfigurationRequest", 409),
      /back-end server on port 8443/,
    );
    assert.match(await rejects(() => del("key"), "InvalidConfigurationRequest", 409), /policy auth/);
    await rejects(() => del("proxy", "nope"), "LoadBalancerNotFound");

    await del("proxy");
    await del("session-cookie");
    const names = (
      await elb.send(new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "del" }))
    ).PolicyDescriptions?.map((p) => p.PolicyName);
    assert.deepEqual(names, ["lb-cookie", "app-cookie", "tls", "key", "auth"]);
    const head = await server.store.head();
    await del("proxy");
    assert.equal(await server.store.head(), head, "deleting a missing policy appends nothing");
  });

  test("a reader may describe but not change policies", async () => {
    await create("ro");
    const reader = server.client(READER_KEY);
    await reader.send(new DescribeLoadBalancerPoliciesCommand({ LoadBalancerName: "ro" }));
    await reader.send(new DescribeLoadBalancerPolicyTypesCommand({}));
    await rejects(
      () =>
        reader.send(new CreateLBCookieStickinessPolicyCommand({ LoadBalancerName: "ro", PolicyName: "x" })),
      "AccessDenied",
      403,
    );
  });
});
