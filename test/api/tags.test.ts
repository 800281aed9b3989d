/** AddTags, RemoveTags, DescribeTags through the AWS SDK. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AddTagsCommand,
  CreateLoadBalancerCommand,
  DescribeTagsCommand,
  type ElasticLoadBalancingClient,
  RemoveTagsCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { READER_KEY, sdkError, startTestServer, type TestServer } from "./support.js";

describe("tags", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    elb = server.client();
    for (const name of ["tagged", "other"])
      await elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: name,
          Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
          AvailabilityZones: ["us-east-1a"],
          Tags: [{ Key: "team", Value: "core" }],
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

  const describeTags = async (...names: string[]) =>
    (await elb.send(new DescribeTagsCommand({ LoadBalancerNames: names }))).TagDescriptions;

  test("AddTags adds and overwrites; DescribeTags lists per load balancer", async () => {
    await elb.send(
      new AddTagsCommand({
        LoadBalancerNames: ["tagged"],
        Tags: [{ Key: "team", Value: "edge" }, { Key: "env", Value: "prod" }, { Key: "bare" }],
      }),
    );
    const rev = await server.store.revision(await server.store.head());
    assert.equal(rev?.action, "AddTags");
    assert.deepEqual(await describeTags("tagged", "other"), [
      {
        LoadBalancerName: "tagged",
        Tags: [{ Key: "team", Value: "edge" }, { Key: "env", Value: "prod" }, { Key: "bare" }],
      },
      { LoadBalancerName: "other", Tags: [{ Key: "team", Value: "core" }] },
    ]);
  });

  test("AddTags with the same tags again appends no revision", async () => {
    const head = await server.store.head();
    await elb.send(
      new AddTagsCommand({ LoadBalancerNames: ["tagged"], Tags: [{ Key: "env", Value: "prod" }] }),
    );
    assert.equal(await server.store.head(), head);
  });

  test("RemoveTags removes keys and ignores keys that are not there", async () => {
    await elb.send(
      new RemoveTagsCommand({ LoadBalancerNames: ["tagged"], Tags: [{ Key: "bare" }, { Key: "absent" }] }),
    );
    assert.deepEqual((await describeTags("tagged"))?.[0]?.Tags, [
      { Key: "team", Value: "edge" },
      { Key: "env", Value: "prod" },
    ]);
    const lb = (await server.store.get("loadBalancer", "tagged"))?.doc;
    assert.deepEqual(lb?.tags, [
      { key: "team", value: "edge" },
      { key: "env", value: "prod" },
    ]);
  });

  test("at most 10 tags per load balancer: TooManyTags, nothing changes", async () => {
    const eight = Array.from({ length: 8 }, (_, i) => ({ Key: `k${i}`, Value: "v" }));
    await elb.send(new AddTagsCommand({ LoadBalancerNames: ["tagged"], Tags: eight })); // 10 now
    await elb.send(new AddTagsCommand({ LoadBalancerNames: ["tagged"], Tags: [{ Key: "k0", Value: "w" }] }));
    const err = await sdkError(() =>
      elb.send(new AddTagsCommand({ LoadBalancerNames: ["tagged"], Tags: [{ Key: "eleventh" }] })),
    );
    assert.equal(err.name, "TooManyTagsException");
    await rejects(
      () => elb.send(new AddTagsCommand({ LoadBalancerNames: ["tagged"], Tags: [{ Key: "eleventh" }] })),
      "TooManyTags",
    );
    const many = Array.from({ length: 11 }, (_, i) => ({ Key: `m${i}` }));
    await rejects(
      () => elb.send(new AddTagsCommand({ LoadBalancerNames: ["other"], Tags: many })),
      "TooManyTags",
    );
    assert.equal((await describeTags("tagged"))?.[0]?.Tags?.length, 10);
  });

  test("AddTags rejects duplicate keys, bad keys and values, unknown load balancers", async () => {
    const add =
      (Tags: { Key: string; Value?: string }[], names = ["other"]) =>
      () =>
        elb.send(new AddTagsCommand({ LoadBalancerNames: names, Tags }));
    await rejects(add([{ Key: "a" }, { Key: "a", Value: "b" }]), "DuplicateTagKeys");
    await rejects(add([{ Key: "" }]), "ValidationError");
    await rejects(add([{ Key: "k".repeat(129) }]), "ValidationError");
    await rejects(add([{ Key: "ok", Value: "v".repeat(257) }]), "ValidationError");
    assert.match(await rejects(add([{ Key: "bad#key" }]), "ValidationError"), /regular expression/);
    await rejects(add([{ Key: "ok", Value: "bad*value" }]), "ValidationError");
    await rejects(add([]), "ValidationError");
    await rejects(add([{ Key: "ok" }], ["nope"]), "LoadBalancerNotFound");
    // Atomic across names: "other" is not tagged when "nope" is missing.
    await rejects(add([{ Key: "ok" }], ["other", "nope"]), "LoadBalancerNotFound");
    await rejects(add([{ Key: "ok" }], []), "ValidationError");
    assert.deepEqual((await describeTags("other"))?.[0]?.Tags, [{ Key: "team", Value: "core" }]);
  });

  test("RemoveTags and DescribeTags errors", async () => {
    await rejects(
      () => elb.send(new RemoveTagsCommand({ LoadBalancerNames: ["nope"], Tags: [{ Key: "team" }] })),
      "LoadBalancerNotFound",
    );
    await rejects(
      () => elb.send(new RemoveTagsCommand({ LoadBalancerNames: ["other"], Tags: [] })),
      "ValidationError",
    );
    await rejects(
      () =>
        elb.send(new RemoveTagsCommand({ LoadBalancerNames: ["other"], Tags: [{ Key: "x".repeat(129) }] })),
      "ValidationError",
    );
    const err = await sdkError(() =>
      elb.send(new DescribeTagsCommand({ LoadBalancerNames: ["tagged", "nope"] })),
    );
    assert.equal(err.code, "LoadBalancerNotFound");
    assert.equal(err.name, "AccessPointNotFoundException");
    await rejects(() => elb.send(new DescribeTagsCommand({ LoadBalancerNames: [] })), "ValidationError");
    const names = Array.from({ length: 21 }, (_, i) => `n${i}`);
    assert.match(
      await rejects(() => elb.send(new DescribeTagsCommand({ LoadBalancerNames: names })), "ValidationError"),
      /less than or equal to 20/,
    );
  });

  test("a reader may describe tags but not change them", async () => {
    const reader = server.client(READER_KEY);
    await reader.send(new DescribeTagsCommand({ LoadBalancerNames: ["other"] }));
    await rejects(
      () => reader.send(new AddTagsCommand({ LoadBalancerNames: ["other"], Tags: [{ Key: "x" }] })),
      "AccessDenied",
      403,
    );
  });
});
