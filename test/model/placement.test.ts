/** Placement, failover, the fleet breaker and scaling decisions: the pure rules of model/placement.ts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import {
  type AgentLiveness,
  countNodes,
  DEFAULT_SCALING,
  fleetBreaker,
  followPlacement,
  type Placement,
  placeLoadBalancer,
  scaleDecision,
} from "../../src/model/placement.js";

const agent = (agentId: string, zone: string, live = true): AgentLiveness => ({ agentId, zone, live });

function place(
  name: string,
  zones: readonly string[],
  current: Placement | undefined,
  agents: readonly AgentLiveness[],
  counts = new Map<string, number>(),
  frozen = false,
) {
  return placeLoadBalancer({
    loadBalancer: name,
    name,
    region: "us-east-1",
    zones,
    current,
    agents,
    counts,
    frozen,
  });
}

describe("placement", () => {
  const fleet = [agent("a1", "us-east-1a"), agent("a2", "us-east-1a"), agent("b1", "us-east-1b")];

  it("gives each zone one node, on the least loaded live agent (ties by name)", () => {
    const counts = new Map([["a1", 3]]);
    const r = place("web", ["us-east-1a", "us-east-1b"], undefined, fleet, counts);
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a2"], "us-east-1b": ["b1"] });
    assert.deepEqual(r.moved, []);
    assert.equal(counts.get("a2"), 1);
  });

  it("spreads many load balancers evenly across a zone's agents", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10; i++) place(`lb${i}`, ["us-east-1a"], undefined, fleet, counts);
    assert.equal(counts.get("a1"), 5);
    assert.equal(counts.get("a2"), 5);
  });

  it("is stable: a node stays on its live agent even when another has fewer nodes", () => {
    const current: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a1"] },
    };
    const r = place("web", ["us-east-1a"], current, fleet, new Map([["a1", 50]]));
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a1"] });
  });

  it("moves a dead agent's node to a live agent of the same zone", () => {
    const current: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a1"], "us-east-1b": ["b1"] },
    };
    const agents = [agent("a1", "us-east-1a", false), agent("a2", "us-east-1a"), agent("b1", "us-east-1b")];
    const r = place("web", ["us-east-1a", "us-east-1b"], current, agents, countNodes([current]));
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a2"], "us-east-1b": ["b1"] });
    assert.deepEqual(r.moved, [{ zone: "us-east-1a", from: "a1", to: "a2" }]);
  });

  it("keeps a dead agent's node when the zone has no live agent to take it, and says so", () => {
    const current: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1b": ["b1"] },
    };
    const r = place("web", ["us-east-1b"], current, [agent("b1", "us-east-1b", false)]);
    assert.deepEqual(r.placement.nodes, { "us-east-1b": ["b1"] });
    assert.deepEqual(r.unplaced, ["us-east-1b"]);
  });

  it("moves nothing while frozen (the breaker is open)", () => {
    const current: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a1"] },
    };
    const agents = [agent("a1", "us-east-1a", false), agent("a2", "us-east-1a")];
    const r = place("web", ["us-east-1a"], current, agents, new Map(), true);
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a1"] });
    assert.deepEqual(r.moved, []);
  });

  it("a returning agent gets no node back: the node stays where failover put it", () => {
    const after: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a2"] },
    };
    const r = place("web", ["us-east-1a"], after, fleet, countNodes([after]));
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a2"] });
  });

  it("scales to the desired count on distinct agents, and back down newest first", () => {
    const up: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a2"] },
      scale: { "us-east-1a": { nodes: 2, changedAt: "2026-01-01T00:00:00Z" } },
    };
    const r = place("web", ["us-east-1a"], up, fleet);
    assert.deepEqual(r.placement.nodes, { "us-east-1a": ["a2", "a1"] });
    const down: Placement = {
      ...r.placement,
      scale: { "us-east-1a": { nodes: 1, changedAt: "2026-01-01T00:10:00Z" } },
    };
    assert.deepEqual(place("web", ["us-east-1a"], down, fleet).placement.nodes, { "us-east-1a": ["a2"] });
  });

  it("drops a zone the load balancer left", () => {
    const current: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a1"], "us-east-1b": ["b1"] },
    };
    assert.deepEqual(place("web", ["us-east-1a"], current, fleet).placement.nodes, { "us-east-1a": ["a1"] });
  });
});

describe("the fleet breaker", () => {
  it("lets one of two agents fail over (50 % is not more than 50 %)", () => {
    const v = fleetBreaker({ agents: [agent("a1", "z", false), agent("a2", "z")], threshold: 0.5 });
    assert.equal(v.open, false);
    assert.deepEqual(v.dead, ["a1"]);
  });

  it("opens when more than the threshold share look dead at once, naming them", () => {
    const v = fleetBreaker({
      agents: [agent("a1", "us-east-1a", false), agent("a2", "us-east-1a"), agent("b1", "us-east-1b", false)],
      threshold: 0.5,
    });
    assert.equal(v.open, true);
    assert.match(v.message, /2 of 3 agents .*failover is suspended.*a1, b1/);
  });

  it("follows its threshold", () => {
    const agents = [agent("a1", "z", false), agent("a2", "z"), agent("a3", "z"), agent("a4", "z")];
    assert.equal(fleetBreaker({ agents, threshold: 0.2 }).open, true);
    assert.equal(fleetBreaker({ agents, threshold: 0.25 }).open, false);
  });

  it("stays closed with no agents", () => {
    assert.equal(fleetBreaker({ agents: [], threshold: 0.5 }).open, false);
  });
});

describe("scaling decisions", () => {
  const policy = {
    ...DEFAULT_SCALING,
    upConnections: 10,
    upRequestsPerSecond: 100,
    cooldownSeconds: 60,
    upCooldownSeconds: 5,
  };
  const decide = (nodes: number, connections: number, rps: number, since: number, agentsInZone = 3) =>
    scaleDecision({
      nodes,
      agentsInZone,
      load: { connections, requestsPerSecond: rps },
      policy,
      sinceChangeSeconds: since,
    }).nodes;

  it("grows past either threshold, up to the zone's agents", () => {
    assert.equal(decide(1, 11, 0, 1000), 2);
    assert.equal(decide(1, 0, 101, 1000), 2);
    assert.equal(decide(3, 100, 0, 1000), 3);
  });

  it("does not grow again within the scale-up cool-down", () => {
    assert.equal(decide(2, 50, 0, 2), 2);
  });

  it("shrinks only after the cool-down, and only when the smaller count stays under the down share", () => {
    assert.equal(decide(2, 1, 0, 30), 2);
    assert.equal(decide(2, 1, 0, 61), 1);
    assert.equal(decide(2, 4, 0, 61), 2);
    assert.equal(decide(1, 0, 0, 1000), 1);
  });
});

describe("DNS follows placement", () => {
  const status = (agentId: string, zone: string, lbs: string[]): AgentStatus => ({
    agentId,
    zone,
    configRevision: 1,
    nodes: lbs.map((loadBalancer) => ({ loadBalancer, address: `10.0.0.${agentId.length}`, listeners: [] })),
    health: [],
    unexplained: [],
    time: new Date().toISOString(),
  });

  it("drops a node placement moved away and keeps load balancers with no placement", () => {
    const placement: Placement = {
      loadBalancer: "web",
      name: "web",
      region: "us-east-1",
      nodes: { "us-east-1a": ["a2"] },
    };
    const out = followPlacement(
      [status("a1", "us-east-1a", ["web", "orphan"]), status("a2", "us-east-1a", ["web"])],
      [placement],
    );
    assert.deepEqual(
      out[0]?.nodes.map((n) => n.loadBalancer),
      ["orphan"],
    );
    assert.deepEqual(
      out[1]?.nodes.map((n) => n.loadBalancer),
      ["web"],
    );
  });
});
