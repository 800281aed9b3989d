/** DescribeLoadBalancerAttributes and ModifyLoadBalancerAttributes through the AWS SDK. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancerAttributesCommand,
  type ElasticLoadBalancingClient,
  type LoadBalancerAttributes,
  ModifyLoadBalancerAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { postForm, sdkError, startTestServer, type TestServer } from "./support.js";

describe("load balancer attributes", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    elb = server.client();
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "attrs",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
  });
  after(() => server.close());

  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  const modify = (LoadBalancerAttributes: LoadBalancerAttributes, name = "attrs") =>
    elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerName: name, LoadBalancerAttributes }));
  const read = async () =>
    (await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: "attrs" })))
      .LoadBalancerAttributes;

  test("a new load balancer has ELB's defaults and stores no attributes", async () => {
    assert.deepEqual(await read(), {
      CrossZoneLoadBalancing: { Enabled: false },
      AccessLog: { Enabled: false },
      ConnectionDraining: { Enabled: false, Timeout: 300 },
      ConnectionSettings: { IdleTimeout: 60 },
      AdditionalAttributes: [{ Key: "elb.http.desyncmitigationmode", Value: "defensive" }],
    });
    assert.equal((await server.store.get("loadBalancer", "attrs"))?.doc.attributes, undefined);
  });

  test("Modify echoes what was given, stores the merge, Describe reads it back", async () => {
    const out = await modify({
      CrossZoneLoadBalancing: { Enabled: true },
      ConnectionDraining: { Enabled: true, Timeout: 120 },
    });
    assert.equal(out.LoadBalancerName, "attrs");
    assert.deepEqual(out.LoadBalancerAttributes, {
      CrossZoneLoadBalancing: { Enabled: true },
      ConnectionDraining: { Enabled: true, Timeout: 120 },
    });
    const rev = await server.store.revision(await server.store.head());
    assert.equal(rev?.action, "ModifyLoadBalancerAttributes");
    const out2 = await modify({
      ConnectionSettings: { IdleTimeout: 4000 },
      AccessLog: { Enabled: true, S3BucketName: "my-logs", EmitInterval: 5, S3BucketPrefix: "prod/web" },
      AdditionalAttributes: [{ Key: "elb.http.desyncmitigationmode", Value: "strictest" }],
    });
    assert.deepEqual(out2.LoadBalancerAttributes, {
      ConnectionSettings: { IdleTimeout: 4000 },
      AccessLog: { Enabled: true, S3BucketName: "my-logs", EmitInterval: 5, S3BucketPrefix: "prod/web" },
      AdditionalAttributes: [{ Key: "elb.http.desyncmitigationmode", Value: "strictest" }],
    });
    assert.deepEqual(await read(), {
      CrossZoneLoadBalancing: { Enabled: true },
      AccessLog: { Enabled: true, S3BucketName: "my-logs", EmitInterval: 5, S3BucketPrefix: "prod/web" },
      ConnectionDraining: { Enabled: true, Timeout: 120 },
      ConnectionSettings: { IdleTimeout: 4000 },
      AdditionalAttributes: [{ Key: "elb.http.desyncmitigationmode", Value: "strictest" }],
    });
    const stored = (await server.store.get("loadBalancer", "attrs"))?.doc.attributes;
    assert.deepEqual(stored?.accessLog, {
      enabled: true,
      emitInterval: 5,
      s3BucketName: "my-logs",
      s3BucketPrefix: "prod/web",
    });
  });

  test("draining without a timeout keeps the timeout; the same values again append nothing", async () => {
    await modify({ ConnectionDraining: { Enabled: false } });
    assert.deepEqual((await read())?.ConnectionDraining, { Enabled: false, Timeout: 120 });
    const head = await server.store.head();
    await modify({ ConnectionDraining: { Enabled: false }, CrossZoneLoadBalancing: { Enabled: true } });
    assert.equal(await server.store.head(), head);
    await modify({ AccessLog: { Enabled: false } });
    // Disabling replaces the access log setting: the bucket given before is not kept.
    assert.deepEqual((await read())?.AccessLog, { Enabled: false });
  });

  test("bounds are accepted", async () => {
    await modify({
      ConnectionDraining: { Enabled: true, Timeout: 1 },
      ConnectionSettings: { IdleTimeout: 1 },
    });
    await modify({
      ConnectionDraining: { Enabled: true, Timeout: 3600 },
      AccessLog: { Enabled: true, S3BucketName: "abc", EmitInterval: 60 },
    });
    assert.equal((await read())?.ConnectionDraining?.Timeout, 3600);
  });

  test("invalid values are refused with ELB's codes and change nothing", async () => {
    await rejects(() => modify({ ConnectionDraining: { Enabled: true, Timeout: 0 } }), "ValidationError");
    await rejects(() => modify({ ConnectionDraining: { Enabled: true, Timeout: 3601 } }), "ValidationError");
    await rejects(() => modify({ ConnectionSettings: { IdleTimeout: 0 } }), "ValidationError");
    await rejects(() => modify({ ConnectionSettings: { IdleTimeout: 4001 } }), "ValidationError");
    assert.match(
      await rejects(() => modify({ AccessLog: { Enabled: true } }), "InvalidConfigurationRequest", 409),
      /S3BucketName/,
    );
    await rejects(
      () => modify({ AccessLog: { Enabled: true, S3BucketName: "logs", EmitInterval: 10 } }),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () => modify({ AccessLog: { Enabled: true, S3BucketName: "Bad_Bucket" } }),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      () => modify({ AdditionalAttributes: [{ Key: "elb.http.desyncmitigationmode", Value: "lenient" }] }),
      "InvalidConfigurationRequest",
      409,
    );
    const err = await sdkError(() =>
      modify({ AdditionalAttributes: [{ Key: "elb.other.thing", Value: "x" }] }),
    );
    assert.equal(err.code, "LoadBalancerAttributeNotFound");
    assert.equal(err.name, "LoadBalancerAttributeNotFoundException");
    await rejects(
      () => modify({ AdditionalAttributes: [{ Key: "bad key!", Value: "x" }] }),
      "ValidationError",
    );
    const eleven = Array.from({ length: 11 }, () => ({
      Key: "elb.http.desyncmitigationmode",
      Value: "monitor",
    }));
    await rejects(() => modify({ AdditionalAttributes: eleven }), "ValidationError");
    await rejects(
      () => modify({ CrossZoneLoadBalancing: { Enabled: true } }, "nope"),
      "LoadBalancerNotFound",
    );
    await rejects(() => modify({}), "ValidationError");
    await rejects(
      () => elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: "nope" })),
      "LoadBalancerNotFound",
    );
  });

  test("wire forms: a non-boolean Enabled and a missing required member are ValidationErrors", async () => {
    const head = await server.store.head();
    const base = { Action: "ModifyLoadBalancerAttributes", Version: "2012-06-01", LoadBalancerName: "attrs" };
    const notBool = await postForm(server.url, {
      ...base,
      "LoadBalancerAttributes.CrossZoneLoadBalancing.Enabled": "yes",
    });
    assert.equal(notBool.status, 400);
    assert.match(notBool.body, /<Code>ValidationError<\/Code>/);
    const noIdle = await postForm(server.url, {
      ...base,
      "LoadBalancerAttributes.ConnectionDraining.Timeout": "30",
    });
    assert.equal(noIdle.status, 400);
    assert.match(noIdle.body, /connectionDraining.enabled/);
    assert.equal(await server.store.head(), head);
  });
});
