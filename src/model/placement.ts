/**
 * Placement of load-balancer nodes on agents, failover, and the fleet's circuit breaker — pure
 * rules the controller (`controller/fleet.ts`) applies to the store each tick.
 *
 * A load balancer has, in each of its zones, `desired` nodes (1 unless scaling raised it), each on a
 * different agent of that zone. A node stays on its agent while the agent lives (stable: nothing
 * is rebalanced); a new node goes to the live agent of the zone with the fewest nodes (ties by
 * name); an agent silent past the failover timeout loses its nodes to other live agents of the
 * zone — unless the breaker is open, when nothing moves. A returning agent gets nodes back only as
 * any other live agent does: as the least loaded candidate for a new or failed-over node. No node
 * moves back to it, so an agent that flaps moves its nodes once, not back and forth.
 */

import type { AgentStatus } from "./agent-protocol.js";
import { regionServedBy } from "./region.js";

/** Where one load balancer's nodes are, as the journal keeps it (entity kind `placement`). */
export interface Placement {
  /** The load balancer's store key (`name`, or `region/name` outside us-east-1). */
  readonly loadBalancer: string;
  readonly name: string;
  readonly region: string;
  /** Per zone: the agents that run a node of it, in the order they were given one. */
  readonly nodes: Readonly<Record<string, readonly string[]>>;
  /** Per zone: how many nodes scaling wants (absent: 1), and when it last changed it. */
  readonly scale?: Readonly<Record<string, ScaleState>>;
}

export interface ScaleState {
  readonly nodes: number;
  /** ISO 8601: when scaling last changed `nodes` (the cool-down counts from here). */
  readonly changedAt: string;
}

/** An agent as placement sees it: its zone and whether it heartbeats. */
export interface AgentLiveness {
  readonly agentId: string;
  readonly zone: string;
  /** Reported within the failover timeout. */
  readonly live: boolean;
}

/** How many nodes each agent runs now, over every load balancer. */
export type NodeCounts = Map<string, number>;

export function countNodes(placements: Iterable<Placement>): NodeCounts {
  const counts: NodeCounts = new Map();
  for (const p of placements)
    for (const agents of Object.values(p.nodes))
      for (const a of agents) counts.set(a, (counts.get(a) ?? 0) + 1);
  return counts;
}

export function desiredNodes(p: Placement | undefined, zone: string): number {
  return Math.max(1, p?.scale?.[zone]?.nodes ?? 1);
}

export interface PlaceInput {
  readonly loadBalancer: string;
  readonly name: string;
  readonly region: string;
  readonly zones: readonly string[];
  readonly current: Placement | undefined;
  readonly agents: readonly AgentLiveness[];
  /** Updated in place as nodes are given and taken, so one tick spreads over many load balancers. */
  readonly counts: NodeCounts;
  /** The breaker is open: no node leaves a dead agent. */
  readonly frozen: boolean;
}

export interface PlaceResult {
  readonly placement: Placement;
  /** Nodes that left a dead agent for another: `{zone, from, to}`. */
  readonly moved: readonly { readonly zone: string; readonly from: string; readonly to: string }[];
  /** Zones where a node is wanted and no live agent can take it. */
  readonly unplaced: readonly string[];
}

/** The placement of one load balancer after this tick. `current` unchanged when nothing is to do. */
export function placeLoadBalancer(input: PlaceInput): PlaceResult {
  const { current, counts } = input;
  const live = new Set(input.agents.filter((a) => a.live).map((a) => a.agentId));
  const nodes: Record<string, string[]> = {};
  const moved: { zone: string; from: string; to: string }[] = [];
  const unplaced: string[] = [];
  for (const zone of input.zones) {
    const want = desiredNodes(current, zone);
    const had = [...(current?.nodes[zone] ?? [])];
    // A dead agent keeps its node while the breaker is open; otherwise it gives it up.
    const kept = input.frozen ? had : had.filter((a) => live.has(a));
    const lost = had.filter((a) => !kept.includes(a));
    for (const a of lost) counts.set(a, (counts.get(a) ?? 1) - 1);
    // Scaling down: the newest nodes leave first, so the oldest stay where they are.
    while (kept.length > want) {
      const gone = kept.pop() as string;
      counts.set(gone, (counts.get(gone) ?? 1) - 1);
    }
    const candidates = input.agents
      .filter((a) => a.zone === zone && a.live && !kept.includes(a.agentId))
      .map((a) => a.agentId);
    while (kept.length < want) {
      const next = leastLoaded(candidates, counts);
      if (next === undefined) break;
      candidates.splice(candidates.indexOf(next), 1);
      kept.push(next);
      counts.set(next, (counts.get(next) ?? 0) + 1);
      const from = lost.shift();
      if (from !== undefined) moved.push({ zone, from, to: next });
    }
    if (kept.length < want && (kept.length === 0 || lost.length > 0)) unplaced.push(zone);
    // A zone with nobody to take its node keeps what it had: forgetting a dead agent frees nothing.
    if (kept.length === 0 && lost.length > 0) {
      for (const a of had) counts.set(a, (counts.get(a) ?? 0) + 1);
      nodes[zone] = had;
    } else nodes[zone] = kept;
  }
  const placement: Placement = {
    loadBalancer: input.loadBalancer,
    name: input.name,
    region: input.region,
    nodes,
    ...(current?.scale === undefined ? {} : { scale: onlyZones(current.scale, input.zones) }),
  };
  return { placement, moved, unplaced };
}

function onlyZones<T>(record: Readonly<Record<string, T>>, zones: readonly string[]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const z of zones) if (record[z] !== undefined) out[z] = record[z];
  return out;
}

function leastLoaded(candidates: readonly string[], counts: NodeCounts): string | undefined {
  let best: string | undefined;
  for (const c of candidates) {
    if (best === undefined) best = c;
    else {
      const d = (counts.get(c) ?? 0) - (counts.get(best) ?? 0);
      if (d < 0 || (d === 0 && c < best)) best = c;
    }
  }
  return best;
}

/** True when two placements state the same nodes and scale. */
export function samePlacement(a: Placement | undefined, b: Placement): boolean {
  // Nothing placed yet and still nothing to place (no live agent): no revision to write.
  if (a === undefined) return Object.values(b.nodes).every((n) => n.length === 0) && b.scale === undefined;
  return canonical(a) === canonical(b);
}

function canonical(p: Placement): string {
  const sortKeys = (r: Readonly<Record<string, unknown>> | undefined) =>
    r === undefined ? null : Object.fromEntries(Object.entries(r).sort(([x], [y]) => (x < y ? -1 : 1)));
  return JSON.stringify([p.loadBalancer, p.name, p.region, sortKeys(p.nodes), sortKeys(p.scale)]);
}

// --- the fleet's circuit breaker -----------------------------------------------------------------

export interface BreakerInput {
  /** Agents that hold nodes or heartbeat now. */
  readonly agents: readonly AgentLiveness[];
  /** Trip when more than this share of them look dead at once (0.5 = 50 %). */
  readonly threshold: number;
}

export interface BreakerVerdict {
  readonly open: boolean;
  readonly dead: readonly string[];
  readonly total: number;
  readonly message: string;
}

/**
 * Octavia's failover threshold: when many agents look dead at once, the likelier failure is the
 * control plane's view of them (its network, its clock, its store), and moving every node would
 * make that failure everyone's. Then nothing moves until the share falls back or an operator acts.
 */
export function fleetBreaker(input: BreakerInput): BreakerVerdict {
  const dead = input.agents
    .filter((a) => !a.live)
    .map((a) => a.agentId)
    .sort();
  const total = input.agents.length;
  const open = total > 0 && dead.length > input.threshold * total;
  const pct = Math.round(input.threshold * 100);
  return {
    open,
    dead,
    total,
    message: open
      ? `${dead.length} of ${total} agents stopped heartbeating at once (more than ${pct} %): failover is suspended, nothing moves (${dead.join(", ")})`
      : `${dead.length} of ${total} agents dead (at most ${pct} % fail over)`,
  };
}

// --- scaling ---------------------------------------------------------------------------------------

export interface ScalingPolicy {
  /** Scale up when a node's open client connections average more than this… */
  readonly upConnections: number;
  /** …or its requests per second average more than this. */
  readonly upRequestsPerSecond: number;
  /** Scale down when both fall under this share of the up thresholds. */
  readonly downShare: number;
  /** Seconds after a change before the next scale-down. */
  readonly cooldownSeconds: number;
  /** Seconds after a change before the next scale-up (the new node needs time to take its share). */
  readonly upCooldownSeconds: number;
}

export const DEFAULT_SCALING: ScalingPolicy = {
  upConnections: 500,
  upRequestsPerSecond: 1000,
  downShare: 0.3,
  cooldownSeconds: 300,
  upCooldownSeconds: 30,
};

export interface ZoneLoad {
  /** Open client connections, summed over the load balancer's nodes in the zone. */
  readonly connections: number;
  /** Requests per second, summed over the nodes in the zone. */
  readonly requestsPerSecond: number;
}

/** The node count scaling wants for one load balancer in one zone: `nodes` ± 1, or `nodes`. */
export function scaleDecision(input: {
  readonly nodes: number;
  readonly agentsInZone: number;
  readonly load: ZoneLoad;
  readonly policy: ScalingPolicy;
  readonly sinceChangeSeconds: number;
}): { readonly nodes: number; readonly reason: string } {
  const { nodes, load, policy: p } = input;
  const perConn = load.connections / nodes;
  const perRps = load.requestsPerSecond / nodes;
  const cooled = input.sinceChangeSeconds >= p.cooldownSeconds;
  const upCooled = input.sinceChangeSeconds >= p.upCooldownSeconds;
  const describe = `${perConn.toFixed(0)} connections and ${perRps.toFixed(0)} requests/s per node`;
  if ((perConn > p.upConnections || perRps > p.upRequestsPerSecond) && nodes < input.agentsInZone && upCooled)
    return { nodes: nodes + 1, reason: `${describe}, over ${p.upConnections} or ${p.upRequestsPerSecond}` };
  if (
    nodes > 1 &&
    cooled &&
    // The load must fit the smaller count under the down share too, or the next tick scales up again.
    load.connections / (nodes - 1) < p.downShare * p.upConnections &&
    load.requestsPerSecond / (nodes - 1) < p.downShare * p.upRequestsPerSecond
  )
    return {
      nodes: nodes - 1,
      reason: `${describe}, under ${Math.round(p.downShare * 100)} % of the thresholds`,
    };
  return { nodes, reason: describe };
}

// --- DNS follows placement -------------------------------------------------------------------------

/**
 * The statuses with every node report that placement no longer puts on its agent left out: after a
 * failover the dead agent's last report stays fresh for a while, and DNS must not send clients
 * there. A load balancer with no placement (a store that lost it) keeps every report: names keep
 * answering from what agents serve.
 */
export function followPlacement(
  statuses: readonly AgentStatus[],
  placements: Iterable<Placement>,
): AgentStatus[] {
  const placedOn = new Map<string, Set<string>>();
  for (const p of placements) {
    const agents = new Set(Object.values(p.nodes).flat());
    placedOn.set(`${p.region}/${p.name}`, agents);
  }
  if (placedOn.size === 0) return [...statuses];
  return statuses.map((s) => {
    const region = regionServedBy(s.zone);
    const nodes = s.nodes.filter((n) => placedOn.get(`${region}/${n.loadBalancer}`)?.has(s.agentId) ?? true);
    return nodes.length === s.nodes.length ? s : { ...s, nodes };
  });
}
