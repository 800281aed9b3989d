/**
 * DescribeInstanceHealth over a real SQLite store, with agent statuses written by hand: how the
 * fresh reports combine, and how an instance draining after its deregistration is described.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CreateLoadBalancerCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  type ElasticLoadBalancingClient,
  type InstanceState,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import type { InstanceHealthReport } from "../../src/model/agent-protocol.js";
import { sdkError, startTestServer, type TestServer } from "./support.js";

const SEED = { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "PutInstance" };
const LB = "drain";
const IN_SERVICE: InstanceState = { State: "InService", ReasonCode: "N/A", Description: "N/A" };
const DRAINING: InstanceState = {
  State: "InService",
  ReasonCode: "N/A",
  Description: "Instance deregistration currently in progress",
};
const NOT_REGISTERED: InstanceState = {
  State: "OutOfService",
  ReasonCode: "N/A",
  Description: "Instance is not currently registered with the LoadBalancer.",
};

function healthy(instanceId: string, loadBalancer = LB): InstanceHealthReport {
  return { loadBalancer, instanceId, state: "InService", reasonCode: "N/A", description: "N/A" };
}

function draining(instanceId: string, loadBalancer = LB): InstanceHealthReport {
  return {
    loadBalancer,
    instanceId,
    state: "InService",
    reasonCode: "N/A",
    description: "Instance deregistration currently in progress",
    draining: true,
  };
}

describe("DescribeInstanceHealth: instances draining after deregistration", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;

  /** Writes one agent's status; `ageMs` back-dates it. */
  async function report(
    zone: "a" | "b",
    health: InstanceHealthReport[],
    ageMs = 0,
    agentId = `agent-us-east-1${zone}`,
  ): Promise<void> {
    await server.store.putAgentStatus({
      agentId,
      zone: `us-east-1${zone}`,
      configRevision: await server.store.head(),
      nodes: [],
      unexplained: [],
      health,
      time: new Date(Date.now() - ageMs).toISOString(),
    });
  }

  async function states(...ids: string[]): Promise<InstanceState[]> {
    const out = await elb.send(
      new DescribeInstanceHealthCommand({
        LoadBalancerName: LB,
        ...(ids.length > 0 ? { Instances: ids.map((InstanceId) => ({ InstanceId })) } : {}),
      }),
    );
    return out.InstanceStates ?? [];
  }

  before(async () => {
    server = await startTestServer();
    elb = server.client();
    await server.store.mutate(SEED, async (tx) => {
      tx.put("instance", "i-0a01", { instanceId: "i-0a01", address: "10.0.0.1", zone: "us-east-1a" });
      tx.put("instance", "i-0b02", { instanceId: "i-0b02", address: "10.0.0.2", zone: "us-east-1b" });
      tx.put("instance", "i-0a03", { instanceId: "i-0a03", address: "10.0.0.3", zone: "us-east-1a" });
    });
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: LB,
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
        AvailabilityZones: ["us-east-1a", "us-east-1b"],
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: LB,
        Instances: ["i-0a01", "i-0b02", "i-0a03", "10.0.9.1"].map((InstanceId) => ({ InstanceId })),
      }),
    );
  });
  after(() => server.close());

  test("a deregistered instance an agent drains is InService, deregistration in progress", async () => {
    await elb.send(
      new DeregisterInstancesFromLoadBalancerCommand({
        LoadBalancerName: LB,
        Instances: [{ InstanceId: "i-0b02" }],
      }),
    );
    await report("a", [healthy("i-0a01"), healthy("i-0a03"), healthy("10.0.9.1")]);
    await report("b", [healthy("i-0a01"), healthy("i-0a03"), healthy("10.0.9.1"), draining("i-0b02")]);
    // Registered instances first, in registration order, then the draining ones.
    assert.deepEqual(await states(), [
      { InstanceId: "i-0a01", ...IN_SERVICE },
      { InstanceId: "i-0a03", ...IN_SERVICE },
      { InstanceId: "10.0.9.1", ...IN_SERVICE },
      { InstanceId: "i-0b02", ...DRAINING },
    ]);
    assert.deepEqual(await states("i-0b02", "i-0a01"), [
      { InstanceId: "i-0b02", ...DRAINING },
      { InstanceId: "i-0a01", ...IN_SERVICE },
    ]);
  });

  test("once no fresh report says it drains, it is gone from the list", async () => {
    // Another load balancer's draining, and a stale report, are no evidence for this one.
    await report("b", [
      healthy("i-0a01"),
      healthy("i-0a03"),
      healthy("10.0.9.1"),
      draining("i-0b02", "other"),
    ]);
    await report(
      "a",
      [healthy("i-0a01"), healthy("i-0a03"), healthy("10.0.9.1"), draining("i-0b02")],
      60_000,
      "agent-gone",
    );
    await report("a", [healthy("i-0a01"), healthy("i-0a03")]);
    assert.deepEqual(
      (await states()).map((s) => s.InstanceId),
      ["i-0a01", "i-0a03", "10.0.9.1"],
    );
    assert.deepEqual(await states("i-0b02"), [{ InstanceId: "i-0b02", ...NOT_REGISTERED }]);
  });

  test("an instance that no longer resolves is described while it drains, InvalidInstance after", async () => {
    await elb.send(
      new DeregisterInstancesFromLoadBalancerCommand({
        LoadBalancerName: LB,
        Instances: [{ InstanceId: "i-0a03" }],
      }),
    );
    await server.store.mutate({ ...SEED, action: "DeleteInstance" }, async (tx) =>
      tx.delete("instance", "i-0a03"),
    );
    await report("a", [healthy("i-0a01"), healthy("10.0.9.1"), draining("i-0a03")]);
    assert.deepEqual(await states("i-0a03"), [{ InstanceId: "i-0a03", ...DRAINING }]);
    assert.deepEqual(
      (await states()).map((s) => s.InstanceId),
      ["i-0a01", "10.0.9.1", "i-0a03"],
    );
    await report("a", [healthy("i-0a01"), healthy("10.0.9.1")]);
    const err = await sdkError(() => states("i-0a03"));
    assert.equal(err.code, "InvalidInstance");
    assert.equal(err.status, 400);
  });

  test("a draining report for an instance registered again describes the old registration and is ignored", async () => {
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: LB,
        Instances: [{ InstanceId: "i-0b02" }],
      }),
    );
    await report("b", [healthy("i-0a01"), healthy("10.0.9.1"), draining("i-0b02")]);
    const all = await states();
    assert.deepEqual(
      all.map((s) => s.InstanceId),
      ["i-0a01", "10.0.9.1", "i-0b02"],
    );
    assert.deepEqual(all[2], {
      InstanceId: "i-0b02",
      State: "OutOfService",
      ReasonCode: "ELB",
      Description: "Instance registration is still in progress.",
    });
  });
});
