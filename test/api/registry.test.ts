/** The admin API's subnet registry and account limits. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CreateLoadBalancerCommand } from "@aws-sdk/client-elastic-load-balancing";
import { authHeader, READER_KEY, startTestServer, type TestServer } from "./support.js";

describe("admin registry API", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  async function call(method: string, path: string, body?: unknown, key?: string) {
    const res = await fetch(`${server.url}/admin/v1${path}`, {
      method,
      headers: { authorization: authHeader(key), "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  const code = (r: { json: Record<string, unknown> }) => (r.json.error as { code: string } | undefined)?.code;

  test("PUT, GET and list subnets; each write is a revision", async () => {
    const head = await server.store.head();
    const put = await call("PUT", "/subnets/subnet-0000000a", {
      zone: "us-east-1a",
      vpcId: "vpc-0a1b2c3d",
      cidrBlock: "10.0.1.0/24",
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json.subnet, {
      subnetId: "subnet-0000000a",
      zone: "us-east-1a",
      vpcId: "vpc-0a1b2c3d",
      cidrBlock: "10.0.1.0/24",
    });
    await call("PUT", "/subnets/subnet-0123456789abcdef0", {
      zone: "us-east-1b",
      vpcId: "vpc-0123456789abcdef0",
    });
    assert.equal(await server.store.head(), head + 2);
    const rev = await server.store.revision(head + 1);
    assert.equal(rev?.action, "PutSubnet");
    assert.equal(rev?.principal, "alice");
    const one = await call("GET", "/subnets/subnet-0000000a");
    assert.equal((one.json.subnet as { zone: string }).zone, "us-east-1a");
    const list = await call("GET", "/subnets");
    assert.deepEqual((list.json.subnets as { subnetId: string }[]).map((s) => s.subnetId).sort(), [
      "subnet-0000000a",
      "subnet-0123456789abcdef0",
    ]);
    const again = await call("PUT", "/subnets/subnet-0000000a", {
      zone: "us-east-1a",
      vpcId: "vpc-0a1b2c3d",
      cidrBlock: "10.0.1.0/24",
    });
    assert.equal(again.status, 200);
    assert.equal(await server.store.head(), head + 2, "an unchanged PUT appends nothing");
  });

  test("invalid subnets are refused with no revision", async () => {
    const head = await server.store.head();
    const cases = [
      ["/subnets/subnet-1", { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" }, 400, "ValidationError"],
      ["/subnets/subnet-0000000c", { zone: "mars-1a", vpcId: "vpc-0a1b2c3d" }, 400, "InvalidParameterValue"],
      ["/subnets/subnet-0000000c", { zone: "us-east-1a", vpcId: "vpc-1" }, 400, "InvalidParameterValue"],
      ["/subnets/subnet-0000000c", { zone: "us-east-1a" }, 400, "InvalidParameterValue"],
      [
        "/subnets/subnet-0000000c",
        { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d", cidrBlock: "10.0.0.0/33" },
        400,
        "InvalidParameterValue",
      ],
      ["/subnets/subnet-0000000c", "{nope", 400, "ValidationError"],
      ["/subnets/subnet-0000000c", [1], 400, "ValidationError"],
      ["/subnets/subnet-0000000c/x", { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" }, 404, "NotFound"],
    ] as const;
    for (const [path, body, status, c] of cases) {
      const res = await call("PUT", path, body);
      assert.equal(res.status, status, `${path} ${JSON.stringify(body)}`);
      assert.equal(code(res), c);
    }
    assert.equal((await call("GET", "/subnets/subnet-0000000f")).status, 404);
    assert.equal(await server.store.head(), head);
  });

  test("a subnet in use cannot be deleted or moved; unused, it is tombstoned", async () => {
    await call("PUT", "/subnets/subnet-000000d1", { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" });
    await server.client().send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "uses-subnet",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 80 }],
        Subnets: ["subnet-000000d1"],
      }),
    );
    const head = await server.store.head();
    const del = await call("DELETE", "/subnets/subnet-000000d1");
    assert.equal(del.status, 409);
    assert.equal(code(del), "InvalidConfigurationRequest");
    const move = await call("PUT", "/subnets/subnet-000000d1", { zone: "us-east-1b", vpcId: "vpc-0a1b2c3d" });
    assert.equal(move.status, 409);
    // Only the CIDR changes: allowed.
    const cidr = await call("PUT", "/subnets/subnet-000000d1", {
      zone: "us-east-1a",
      vpcId: "vpc-0a1b2c3d",
      cidrBlock: "10.9.0.0/16",
    });
    assert.equal(cidr.status, 200);
    assert.equal(await server.store.head(), head + 1);
    await call("PUT", "/subnets/subnet-000000d2", { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" });
    const ok = await call("DELETE", "/subnets/subnet-000000d2");
    assert.deepEqual(ok.json, { deleted: "subnet-000000d2" });
    assert.equal((await server.store.revision(await server.store.head()))?.action, "DeleteSubnet");
    assert.equal((await call("DELETE", "/subnets/subnet-000000d2")).status, 404);
  });

  test("limits: list with defaults, set, reset; invalid ones refused", async () => {
    const list = await call("GET", "/limits");
    assert.deepEqual(list.json.limits, [
      { name: "classic-load-balancers", max: 20, default: 20 },
      { name: "classic-listeners", max: 100, default: 100 },
      { name: "classic-registered-instances", max: 1000, default: 1000 },
    ]);
    const set = await call("PUT", "/limits/classic-listeners", { max: 5 });
    assert.deepEqual(set.json.limit, { name: "classic-listeners", region: "us-east-1", max: 5 });
    assert.equal((await server.store.revision(await server.store.head()))?.action, "PutLimit");
    assert.equal(((await call("GET", "/limits")).json.limits as { max: number }[])[1]?.max, 5);
    const head = await server.store.head();
    for (const [path, body, c] of [
      ["/limits/classic-widgets", { max: 5 }, "InvalidParameterValue"],
      ["/limits/classic-listeners", { max: 0 }, "InvalidParameterValue"],
      ["/limits/classic-listeners", { max: 100001 }, "InvalidParameterValue"],
      ["/limits/classic-listeners", { max: 2.5 }, "InvalidParameterValue"],
      ["/limits/classic-listeners", { max: "5" }, "InvalidParameterValue"],
      ["/limits/classic-listeners", "nope", "ValidationError"],
    ] as const) {
      const res = await call("PUT", path, body);
      assert.equal(res.status, 400);
      assert.equal(code(res), c);
    }
    assert.equal(await server.store.head(), head);
    await call("PUT", "/limits/classic-listeners", { max: 100000 });
    const reset = await call("DELETE", "/limits/classic-listeners");
    assert.deepEqual(reset.json, { deleted: "classic-listeners" });
    assert.equal(((await call("GET", "/limits")).json.limits as { max: number }[])[1]?.max, 100);
  });

  test("a reader may read the registry but not change it", async () => {
    assert.equal((await call("GET", "/subnets", undefined, READER_KEY)).status, 200);
    assert.equal((await call("GET", "/limits", undefined, READER_KEY)).status, 200);
    const head = await server.store.head();
    const put = await call("PUT", "/limits/classic-listeners", { max: 3 }, READER_KEY);
    assert.equal(put.status, 403);
    assert.equal(code(put), "AccessDenied");
    const sub = await call(
      "PUT",
      "/subnets/subnet-0000000e",
      { zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" },
      READER_KEY,
    );
    assert.equal(sub.status, 403);
    assert.equal(await server.store.head(), head);
  });
});
