import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentConfig, Removal } from "../../src/model/agent-protocol.js";
import {
  agentRefusal,
  DEFAULT_GUARD_THRESHOLDS,
  type GuardInput,
  measureChange,
} from "../../src/model/guard.js";
import { aNodeSpec } from "../support/builders.js";

const backend = (id: string) => ({ instanceId: id, address: "127.0.0.1", zone: "us-east-1a" });

function doc(loadBalancers: number, removals: Removal[]): AgentConfig {
  return {
    format: 2,
    revision: 100,
    zone: "us-east-1a",
    loadBalancers: Array.from({ length: loadBalancers }, (_, i) => aNodeSpec({ name: `lb-${i}` })),
    removals,
  };
}

const lbRemoval = (name: string, revision = 99): Removal => ({
  kind: "loadBalancer",
  loadBalancer: name,
  key: name,
  revision,
});
const backendRemoval = (lb: string, id: string, revision = 99): Removal => ({
  kind: "backend",
  loadBalancer: lb,
  key: id,
  revision,
});

function input(d: AgentConfig, over: Partial<GuardInput> = {}): GuardInput {
  return {
    doc: d,
    actionOf: () => "DeleteLoadBalancer",
    inService: new Map(),
    stateUnverified: false,
    thresholds: DEFAULT_GUARD_THRESHOLDS,
    ...over,
  };
}

const removing = (n: number) => Array.from({ length: n }, (_, i) => lbRemoval(`gone-${i}`));

describe("blast-radius guard: load balancers", () => {
  it("holds more than 25 load balancers at once, however many there are", () => {
    const v = measureChange(input(doc(1000, removing(26))));
    assert.equal(v.held, true);
    assert.equal(v.removedLoadBalancers, 26);
    assert.match(v.reasons[0] ?? "", /removes 26 load balancers \(more than 25 at once\)/);
    assert.equal(measureChange(input(doc(1000, removing(25)))).held, false, "25 of 1,025 passes");
  });

  it("holds more than 10 % of the zone's load balancers", () => {
    const v = measureChange(input(doc(17, removing(3))));
    assert.equal(v.held, true, "3 of 20");
    assert.equal(v.loadBalancersBefore, 20);
    assert.match(v.reasons[0] ?? "", /removes 3 of 20 load balancers \(more than 10 %\)/);
    assert.equal(measureChange(input(doc(28, removing(2)))).held, false, "2 of 30 is under 10 %");
  });

  it("lets a small explicit delete through: one load balancer of three, or the only one", () => {
    assert.equal(measureChange(input(doc(2, removing(1)))).held, false);
    assert.equal(measureChange(input(doc(0, removing(1)))).held, false);
  });
});

describe("blast-radius guard: one load balancer's back ends", () => {
  const lb = (ids: string[]) => ({
    format: 2 as const,
    revision: 100,
    zone: "us-east-1a",
    loadBalancers: [aNodeSpec({ name: "web", backends: ids.map(backend) })],
  });

  it("holds a load balancer losing more than half its back ends to a change that does not name it", () => {
    const d = { ...lb(["i-1"]), removals: [backendRemoval("web", "i-2"), backendRemoval("web", "i-3")] };
    const v = measureChange(input(d, { actionOf: () => "RestoreState" }));
    assert.equal(v.held, true);
    assert.match(v.reasons[0] ?? "", /web loses 2 of 3 back ends/);
  });

  it("lets DeregisterInstancesFromLoadBalancer naming it remove them all", () => {
    const d = { ...lb([]), removals: [backendRemoval("web", "i-1"), backendRemoval("web", "i-2")] };
    assert.equal(
      measureChange(input(d, { actionOf: () => "DeregisterInstancesFromLoadBalancer" })).held,
      false,
    );
  });

  it("holds the loss of the last InService back end, even when it is fewer than half", () => {
    const d = { ...lb(["i-1", "i-2"]), removals: [backendRemoval("web", "i-3")] };
    const inService = new Map([["web", new Set(["i-3"])]]);
    const v = measureChange(input(d, { actionOf: () => "ImportState", inService }));
    assert.equal(v.held, true);
    assert.match(v.reasons[0] ?? "", /web loses its last InService back end/);
    const stillServing = new Map([["web", new Set(["i-3", "i-1"])]]);
    assert.equal(
      measureChange(input(d, { actionOf: () => "ImportState", inService: stillServing })).held,
      false,
    );
  });

  it("holds every removal while the stored state fails verification, and nothing else", () => {
    assert.equal(measureChange(input(doc(10, removing(1)), { stateUnverified: true })).held, true);
    assert.equal(measureChange(input(doc(10, []), { stateUnverified: true })).held, false);
  });
});

describe("the agent's own guard", () => {
  it("refuses one document that removes most of what the agent serves", () => {
    assert.match(agentRefusal(4, doc(1, removing(3))) ?? "", /removes 3 of the 4 load balancers/);
  });

  it("takes it when it carries a release for its revision", () => {
    assert.equal(agentRefusal(4, { ...doc(1, removing(3)), release: { revision: 100 } }), null);
    assert.notEqual(agentRefusal(4, { ...doc(1, removing(3)), release: { revision: 99 } }), null);
  });

  it("takes small removals: the only load balancer, or half", () => {
    assert.equal(agentRefusal(1, doc(0, removing(1))), null);
    assert.equal(agentRefusal(4, doc(2, removing(2))), null);
  });
});
