/** The admin JSON API for the instance inventory. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { authHeader, READER_KEY, startTestServer, type TestServer } from "./support.js";

describe("admin inventory API", () => {
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

  test("PUT, GET and list instances; each write is a revision", async () => {
    const head = await server.store.head();
    const put = await call("PUT", "/instances/i-0abc", { address: "10.0.0.5", zone: "us-east-1a" });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json.instance, { instanceId: "i-0abc", address: "10.0.0.5", zone: "us-east-1a" });
    await call("PUT", "/instances/i-v6", { address: "fd00::5", zone: "us-east-1b" });
    assert.equal(await server.store.head(), head + 2);
    const rev = await server.store.revision(head + 1);
    assert.equal(rev?.action, "PutInstance");
    assert.equal(rev?.principal, "alice");
    const one = await call("GET", "/instances/i-0abc");
    assert.equal((one.json.instance as { address: string }).address, "10.0.0.5");
    const list = await call("GET", "/instances");
    assert.deepEqual((list.json.instances as { instanceId: string }[]).map((i) => i.instanceId).sort(), [
      "i-0abc",
      "i-v6",
    ]);
  });

  test("invalid bodies are refused with JSON errors and no revision", async () => {
    const head = await server.store.head();
    const bad = [
      [{ address: "10.0.0.256", zone: "us-east-1a" }, 400, "InvalidParameterValue"],
      [{ address: "10.0.0.1", zone: "mars-1a" }, 400, "InvalidParameterValue"],
      ["{not json", 400, "ValidationError"],
      [[1, 2], 400, "ValidationError"],
    ] as const;
    for (const [body, status, code] of bad) {
      const res = await call("PUT", "/instances/i-x", body);
      assert.equal(res.status, status);
      assert.equal((res.json.error as { code: string }).code, code);
    }
    const badId = await call("PUT", "/instances/bad%20id", { address: "10.0.0.1", zone: "us-east-1a" });
    assert.equal((badId.json.error as { code: string }).code, "ValidationError");
    assert.equal(await server.store.head(), head);
  });

  test("DELETE tombstones; a registered instance cannot be deleted; a missing one is NotFound", async () => {
    await call("PUT", "/instances/i-del", { address: "10.0.0.9", zone: "us-east-1a" });
    const del = await call("DELETE", "/instances/i-del");
    assert.equal(del.status, 200);
    assert.equal((await server.store.history("instance", "i-del")).at(-1)?.doc, null);
    const missing = await call("DELETE", "/instances/i-del");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, {
      error: { code: "NotFound", message: "Instance i-del is not in the inventory" },
    });

    await server.store.mutate(
      { principal: "t", sourceIp: "", requestId: "r", action: "seed" },
      async (tx) => {
        tx.put("loadBalancer", "lb", {
          name: "lb",
          id: "1111111111",
          dnsName: "lb-1111111111.us-east-1.elb.ballast.test",
          createdTime: new Date().toISOString(),
          scheme: "internet-facing",
          listeners: [{ protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 80 }],
          availabilityZones: ["us-east-1a"],
          subnets: [],
          securityGroups: [],
          healthCheck: {
            target: "TCP:80",
            interval: 30,
            timeout: 5,
            unhealthyThreshold: 2,
            healthyThreshold: 10,
          },
          instances: ["i-0abc"],
          tags: [],
        });
      },
    );
    const busy = await call("DELETE", "/instances/i-0abc");
    assert.equal(busy.status, 409);
    assert.equal((busy.json.error as { code: string }).code, "InvalidConfigurationRequest");
  });

  test("authentication and authorization", async () => {
    const anon = await fetch(`${server.url}/admin/v1/instances`);
    assert.equal(anon.status, 403);
    assert.equal(
      ((await anon.json()) as { error: { code: string } }).error.code,
      "MissingAuthenticationToken",
    );
    const reader = await call(
      "PUT",
      "/instances/i-r",
      { address: "10.0.0.1", zone: "us-east-1a" },
      READER_KEY,
    );
    assert.equal(reader.status, 403);
    assert.equal((reader.json.error as { code: string }).code, "AccessDenied");
    assert.equal((await call("GET", "/instances", undefined, READER_KEY)).status, 200);
    assert.equal((await call("GET", "/nothing")).status, 404);
    assert.equal((await call("POST", "/instances")).status, 404);
  });
});
