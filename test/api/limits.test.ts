/** DescribeAccountLimits, and the limits enforced once the admin API lowers them. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AddTagsCommand,
  CreateLoadBalancerCommand,
  DescribeAccountLimitsCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { authHeader, sdkError, startTestServer, type TestServer } from "./support.js";

const http = (port: number) => ({ Protocol: "HTTP", LoadBalancerPort: port, InstancePort: 8080 });

describe("account limits", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    elb = server.client();
  });
  after(() => server.close());

  async function setLimit(name: string, max: number): Promise<void> {
    const res = await fetch(`${server.url}/admin/v1/limits/${name}`, {
      method: "PUT",
      headers: { authorization: authHeader(), "content-type": "application/json" },
      body: JSON.stringify({ max }),
    });
    assert.equal(res.status, 200, await res.text());
  }

  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  test("DescribeAccountLimits reports ELB's defaults", async () => {
    const out = await elb.send(new DescribeAccountLimitsCommand({}));
    assert.deepEqual(out.Limits, [
      { Name: "classic-load-balancers", Max: "20" },
      { Name: "classic-listeners", Max: "100" },
      { Name: "classic-registered-instances", Max: "1000" },
    ]);
    assert.equal(out.NextMarker, undefined);
  });

  test("DescribeAccountLimits pages with Marker and PageSize", async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 5; i++) {
      const out = await elb.send(
        new DescribeAccountLimitsCommand({ PageSize: 2, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const l of out.Limits ?? []) seen.push(l.Name ?? "");
      marker = out.NextMarker;
      if (!marker) break;
    }
    assert.deepEqual(seen, ["classic-load-balancers", "classic-listeners", "classic-registered-instances"]);
    await rejects(() => elb.send(new DescribeAccountLimitsCommand({ Marker: "bogus" })), "ValidationError");
    await rejects(() => elb.send(new DescribeAccountLimitsCommand({ PageSize: 0 })), "ValidationError");
    await rejects(() => elb.send(new DescribeAccountLimitsCommand({ PageSize: 401 })), "ValidationError");
  });

  test("a lowered classic-load-balancers limit is reported and enforced", async () => {
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "one",
        Listeners: [http(80)],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    await setLimit("classic-load-balancers", 1);
    const out = await elb.send(new DescribeAccountLimitsCommand({ PageSize: 1 }));
    assert.deepEqual(out.Limits, [{ Name: "classic-load-balancers", Max: "1" }]);
    const err = await sdkError(() =>
      elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: "two",
          Listeners: [http(80)],
          AvailabilityZones: ["us-east-1a"],
        }),
      ),
    );
    assert.equal(err.name, "TooManyAccessPointsException");
    await rejects(
      () =>
        elb.send(
          new CreateLoadBalancerCommand({
            LoadBalancerName: "two",
            Listeners: [http(80)],
            AvailabilityZones: ["us-east-1a"],
          }),
        ),
      "TooManyLoadBalancers",
    );
    // The existing one can still be created again (idempotent): the limit stops growth only.
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "one",
        Listeners: [http(80)],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    await setLimit("classic-load-balancers", 20);
  });

  test("classic-listeners limits the listeners of a new load balancer", async () => {
    await setLimit("classic-listeners", 2);
    await rejects(
      () =>
        elb.send(
          new CreateLoadBalancerCommand({
            LoadBalancerName: "three-listeners",
            Listeners: [http(80), http(81), http(82)],
            AvailabilityZones: ["us-east-1a"],
          }),
        ),
      "InvalidConfigurationRequest",
      409,
    );
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "two-listeners",
        Listeners: [http(80), http(81)],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
  });

  test("classic-registered-instances limits registrations per load balancer", async () => {
    await setLimit("classic-registered-instances", 2);
    const register =
      (...ids: string[]) =>
      () =>
        elb.send(
          new RegisterInstancesWithLoadBalancerCommand({
            LoadBalancerName: "one",
            Instances: ids.map((InstanceId) => ({ InstanceId })),
          }),
        );
    await register("10.0.0.1", "10.0.0.2")();
    await register("10.0.0.2")(); // already registered: no growth, no error
    await rejects(register("10.0.0.3"), "InvalidConfigurationRequest", 409);
    const lb = (await server.store.get("loadBalancer", "one"))?.doc;
    assert.deepEqual(lb?.instances, ["10.0.0.1", "10.0.0.2"]);
  });

  test("tags past 10 are TooManyTags whatever the limits say", async () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}` }));
    await elb.send(new AddTagsCommand({ LoadBalancerNames: ["one"], Tags: ten }));
    await rejects(
      () => elb.send(new AddTagsCommand({ LoadBalancerNames: ["one"], Tags: [{ Key: "x" }] })),
      "TooManyTags",
    );
  });
});
