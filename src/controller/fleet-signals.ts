/**
 * What the fleet workflow reads from the agents and what it shows: the load each load balancer's
 * nodes carry, from status reports, and the fleet's numbers in the Prometheus text format.
 */
import type { AgentStatus } from "../model/agent-protocol.js";
import type { Placement, ZoneLoad } from "../model/placement.js";

interface Sample {
  readonly at: number;
  readonly requests: number;
  readonly rate: number;
}

/** Turns the cumulative request counts agents report into requests per second, per node. */
export class LoadSampler {
  /** Per agent and load balancer: the last request count seen. */
  readonly #samples = new Map<string, Sample>();

  /** Per `zone|name`: the load live agents (reported within `freshMs`) report for a load balancer's nodes. */
  loads(statuses: readonly AgentStatus[], now: number, freshMs: number): Map<string, ZoneLoad> {
    const out = new Map<string, ZoneLoad>();
    for (const s of statuses) {
      const at = Date.parse(s.time);
      if (now - at > freshMs) continue;
      for (const n of s.nodes) {
        const id = `${s.agentId}|${n.loadBalancer}`;
        const prev = this.#samples.get(id);
        const requests = n.requestCount ?? 0;
        let rate = prev?.rate ?? 0;
        if (prev !== undefined && at > prev.at)
          rate = Math.max(0, requests - prev.requests) / ((at - prev.at) / 1000);
        if (prev === undefined || at > prev.at) this.#samples.set(id, { at, requests, rate });
        const zoneKey = `${s.zone}|${n.loadBalancer}`;
        const l = out.get(zoneKey) ?? { connections: 0, requestsPerSecond: 0 };
        out.set(zoneKey, {
          connections: l.connections + (n.connections ?? 0),
          requestsPerSecond: l.requestsPerSecond + rate,
        });
      }
    }
    return out;
  }
}

export interface FleetNumbers {
  readonly breakerOpen: boolean;
  readonly deadAgents: number;
  readonly failovers: number;
  readonly scalings: number;
  readonly scalingRefusals: number;
  readonly placements: readonly Placement[];
}

export function renderFleetMetrics(n: FleetNumbers): string {
  const esc = (s: string): string => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const out = [
    "# HELP ballast_failover_breaker_open 1 while more than the threshold share of agents look dead and nothing moves.",
    "# TYPE ballast_failover_breaker_open gauge",
    `ballast_failover_breaker_open ${n.breakerOpen ? 1 : 0}`,
    "# HELP ballast_agents_dead Agents counted by the breaker that stopped heartbeating past the failover timeout.",
    "# TYPE ballast_agents_dead gauge",
    `ballast_agents_dead ${n.deadAgents}`,
    "# HELP ballast_node_failovers_total Nodes moved from a dead agent to a live one.",
    "# TYPE ballast_node_failovers_total counter",
    `ballast_node_failovers_total ${n.failovers}`,
    "# HELP ballast_scaling_changes_total Node-count changes made by scaling.",
    "# TYPE ballast_scaling_changes_total counter",
    `ballast_scaling_changes_total ${n.scalings}`,
    "# HELP ballast_scaling_refused_total Scaling changes not made because the stored state failed verification.",
    "# TYPE ballast_scaling_refused_total counter",
    `ballast_scaling_refused_total ${n.scalingRefusals}`,
    "# HELP ballast_load_balancer_nodes Nodes placed per load balancer and zone.",
    "# TYPE ballast_load_balancer_nodes gauge",
  ];
  for (const p of n.placements)
    for (const [zone, ids] of Object.entries(p.nodes))
      out.push(
        `ballast_load_balancer_nodes{load_balancer="${esc(p.name)}",zone="${esc(zone)}"} ${ids.length}`,
      );
  return `${out.join("\n")}\n`;
}
