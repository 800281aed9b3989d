/**
 * The fleet workflow: places every load balancer's nodes on live agents of its zones, fails nodes
 * over from agents that stopped heartbeating (behind the breaker), and scales node counts with the
 * load the agents report (only on state that verifies). Every decision is a journal revision
 * (`placement` entities), so a restarted control plane or another replica reads the same placement
 * instead of reshuffling nodes. Runs only on the active controller.
 */
import type { AgentStatus } from "../model/agent-protocol.js";
import type { FleetAlarm } from "../model/guard.js";
import {
  type AgentLiveness,
  type BreakerVerdict,
  countNodes,
  DEFAULT_SCALING,
  desiredNodes,
  fleetBreaker,
  type Placement,
  placeLoadBalancer,
  type ScalingPolicy,
  samePlacement,
  scaleDecision,
  type ZoneLoad,
} from "../model/placement.js";
import { regionOf } from "../model/region.js";
import { entityKey, type LoadBalancer } from "../model/types.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";

export interface FleetOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** True on the one controller that runs workflows (a single control plane: always). */
  readonly isActiveController: () => boolean;
  /** The state monitor's last verdict: scaling acts only on state that verifies. */
  readonly stateVerified: () => boolean;
  /** An agent silent this long is dead and its nodes move (default 15 s). */
  readonly failoverTimeoutMs?: number;
  /** More than this share of agents dead at once: nothing moves, an alarm (default 0.5). */
  readonly failoverThreshold?: number;
  readonly scaling?: ScalingPolicy;
  readonly tickMs?: number;
  readonly now?: () => number;
}

const CONTROLLER_META = {
  principal: "ballast-controller",
  sourceIp: "127.0.0.1",
} as const;

interface Plan {
  readonly puts: Placement[];
  readonly deletes: string[];
  readonly moves: string[];
  readonly scaled: string[];
  readonly refused: string[];
}

interface Sample {
  readonly at: number;
  readonly requests: number;
  readonly rate: number;
}

export class Fleet {
  readonly #opts: FleetOptions;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #scaling: ScalingPolicy;
  readonly #startedAt: number;
  readonly #alarms = new Map<FleetAlarm["kind"], FleetAlarm>();
  /** Per agent and load balancer: the last request count seen, for requests per second. */
  readonly #samples = new Map<string, Sample>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #breaker: BreakerVerdict | undefined;
  #failovers = 0;
  #scalings = 0;
  #scalingRefusals = 0;
  #nodes: readonly Placement[] = [];

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    this.#timeoutMs = opts.failoverTimeoutMs ?? 15_000;
    this.#threshold = opts.failoverThreshold ?? 0.5;
    this.#scaling = opts.scaling ?? DEFAULT_SCALING;
    this.#startedAt = this.#now();
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  start(): void {
    const loop = (): void => {
      this.#running = this.tick()
        .catch((e: unknown) => this.#opts.logger.error("fleet tick failed", { err: e }))
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(loop, this.#opts.tickMs ?? 1000);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    const t = this.#timer;
    this.#timer = undefined;
    if (t !== undefined) clearTimeout(t);
    await this.#running;
  }

  /** Alarms raised now: the breaker open, scaling refused on unverified state. */
  alarms(): FleetAlarm[] {
    return [...this.#alarms.values()];
  }

  /** One pass: place, fail over, scale. Exposed for tests. */
  async tick(): Promise<void> {
    if (!this.#opts.isActiveController()) return;
    const { store } = this.#opts;
    const now = this.#now();
    const [statuses, keys, placements] = await Promise.all([
      store.agentStatuses(),
      store.list("agentKey"),
      store.list("placement"),
    ]);
    const revoked = new Set(keys.filter((k) => k.doc.revokedTime !== undefined).map((k) => k.doc.name));
    const agents = this.#liveness(
      statuses,
      placements.map((p) => p.doc),
      revoked,
      now,
    );
    const breaker = fleetBreaker({ agents, threshold: this.#threshold });
    // Just started: agents have not had the failover timeout to report to this process yet.
    const settling = now - this.#startedAt < this.#timeoutMs;
    this.#breakerAlarm(breaker);
    const frozen = breaker.open || settling;
    const loads = this.#loads(statuses, now);
    const verified = this.#opts.stateVerified();

    const plan = (lbs: readonly LoadBalancer[], placed: readonly Placement[]): Plan =>
      this.#plan(lbs, placed, agents, loads, now, frozen, verified);
    // A dry run first: most ticks change nothing and write nothing; the action names the decision.
    const dry = plan(
      (await store.list("loadBalancer")).map((c) => c.doc),
      placements.map((c) => c.doc),
    );
    if (dry.puts.length === 0 && dry.deletes.length === 0) {
      this.#scalingAlarm(dry.refused);
      this.#nodes = placements.map((p) => p.doc);
      return;
    }
    const action =
      dry.moves.length > 0 ? "FailoverNodes" : dry.scaled.length > 0 ? "ScaleNodes" : "PlaceNodes";
    const { result } = await store.mutate(
      { ...CONTROLLER_META, requestId: `fleet-${now}`, action },
      async (tx) => {
        const p = plan(await tx.list("loadBalancer"), await tx.list("placement"));
        for (const placement of p.puts) tx.put("placement", placement.loadBalancer, placement);
        for (const key of p.deletes) tx.delete("placement", key);
        return p;
      },
    );
    if (result.moves.length > 0) {
      this.#failovers += result.moves.length;
      this.#opts.logger.warn("failed nodes over from dead agents", { moves: result.moves });
    }
    if (result.scaled.length > 0) {
      this.#scalings += result.scaled.length;
      this.#opts.logger.info("scaled load balancers", { changes: result.scaled });
    }
    this.#scalingAlarm(result.refused);
    this.#nodes = (await store.list("placement")).map((p) => p.doc);
  }

  #plan(
    lbs: readonly LoadBalancer[],
    placed: readonly Placement[],
    agents: readonly AgentLiveness[],
    loads: ReadonlyMap<string, ZoneLoad>,
    now: number,
    frozen: boolean,
    verified: boolean,
  ): Plan {
    const current = new Map(placed.map((p) => [p.loadBalancer, p]));
    const counts = countNodes(current.values());
    const plan: Plan = { puts: [], deletes: [], moves: [], scaled: [], refused: [] };
    const wanted = new Set<string>();
    for (const lb of lbs) {
      const key = entityKey("loadBalancer", lb);
      wanted.add(key);
      let before = current.get(key);
      if (before !== undefined) {
        const s = this.#scale(before, lb.availabilityZones, agents, loads, now, verified);
        plan.refused.push(...s.refused);
        plan.scaled.push(...s.changed);
        before = s.placement;
      }
      const r = placeLoadBalancer({
        loadBalancer: key,
        name: lb.name,
        region: regionOf(lb),
        zones: lb.availabilityZones,
        current: before,
        agents,
        counts,
        frozen,
      });
      for (const m of r.moved) plan.moves.push(`${lb.name} ${m.zone}: ${m.from} → ${m.to}`);
      if (!samePlacement(current.get(key), r.placement)) plan.puts.push(r.placement);
    }
    // A deleted load balancer's placement goes with it (its removal came from the delete).
    for (const key of current.keys()) if (!wanted.has(key)) plan.deletes.push(key);
    return plan;
  }

  #liveness(
    statuses: readonly AgentStatus[],
    placements: readonly Placement[],
    revoked: ReadonlySet<string>,
    now: number,
  ): AgentLiveness[] {
    const byId = new Map<string, AgentLiveness>();
    for (const s of statuses) {
      const live = now - Date.parse(s.time) <= this.#timeoutMs && !revoked.has(s.agentId);
      byId.set(s.agentId, { agentId: s.agentId, zone: s.zone, live });
    }
    const holding = new Set<string>();
    for (const p of placements)
      for (const [zone, ids] of Object.entries(p.nodes))
        for (const id of ids) {
          holding.add(id);
          if (!byId.has(id)) byId.set(id, { agentId: id, zone, live: false });
        }
    // The breaker's population: agents that serve something, and agents that could.
    return [...byId.values()].filter((a) => a.live || holding.has(a.agentId));
  }

  /** Per `region/name|zone`: the load the live agents report for a load balancer's nodes. */
  #loads(statuses: readonly AgentStatus[], now: number): Map<string, ZoneLoad> {
    const out = new Map<string, ZoneLoad>();
    for (const s of statuses) {
      const at = Date.parse(s.time);
      if (now - at > this.#timeoutMs) continue;
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

  #scale(
    p: Placement,
    zones: readonly string[],
    agents: readonly AgentLiveness[],
    loads: ReadonlyMap<string, ZoneLoad>,
    now: number,
    verified: boolean,
  ): { placement: Placement; changed: string[]; refused: string[] } {
    const changed: string[] = [];
    const refused: string[] = [];
    const scale = { ...(p.scale ?? {}) };
    for (const zone of zones) {
      const nodes = desiredNodes(p, zone);
      const load = loads.get(`${zone}|${p.name}`);
      if (load === undefined) continue;
      const since = p.scale?.[zone]?.changedAt;
      const decision = scaleDecision({
        nodes,
        agentsInZone: agents.filter((a) => a.zone === zone && a.live).length,
        load,
        policy: this.#scaling,
        sinceChangeSeconds: since === undefined ? Number.POSITIVE_INFINITY : (now - Date.parse(since)) / 1000,
      });
      if (decision.nodes === nodes) continue;
      const what = `${p.name} ${zone}: ${nodes} → ${decision.nodes} nodes (${decision.reason})`;
      if (!verified) {
        refused.push(what);
        continue;
      }
      scale[zone] = { nodes: decision.nodes, changedAt: new Date(now).toISOString() };
      changed.push(what);
    }
    return { placement: changed.length > 0 ? { ...p, scale } : p, changed, refused };
  }

  #breakerAlarm(breaker: BreakerVerdict): void {
    const wasOpen = this.#breaker?.open ?? false;
    this.#breaker = breaker;
    if (breaker.open && !wasOpen) {
      this.#alarms.set("failover-suspended", {
        kind: "failover-suspended",
        message: breaker.message,
        since: new Date(this.#now()).toISOString(),
      });
      this.#opts.logger.error("failover breaker open: nothing moves", {
        dead: breaker.dead,
        agents: breaker.total,
      });
    } else if (!breaker.open && wasOpen) {
      this.#alarms.delete("failover-suspended");
      this.#opts.logger.warn("failover breaker closed", { dead: breaker.dead, agents: breaker.total });
    }
  }

  #scalingAlarm(refused: readonly string[]): void {
    if (refused.length === 0) {
      this.#alarms.delete("scaling-refused");
      return;
    }
    this.#scalingRefusals += refused.length;
    if (!this.#alarms.has("scaling-refused"))
      this.#opts.logger.error("scaling refused: the stored state fails verification", { wanted: refused });
    this.#alarms.set("scaling-refused", {
      kind: "scaling-refused",
      message: `the stored state fails verification, so scaling does nothing: ${refused.join("; ")}`,
      since: this.#alarms.get("scaling-refused")?.since ?? new Date(this.#now()).toISOString(),
    });
  }

  /** Prometheus text of the fleet's numbers (served with the control plane's metrics). */
  metricsText(): string {
    const esc = (s: string): string => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    const out = [
      "# HELP ballast_failover_breaker_open 1 while more than the threshold share of agents look dead and nothing moves.",
      "# TYPE ballast_failover_breaker_open gauge",
      `ballast_failover_breaker_open ${this.#breaker?.open === true ? 1 : 0}`,
      "# HELP ballast_agents_dead Agents holding nodes that stopped heartbeating past the failover timeout.",
      "# TYPE ballast_agents_dead gauge",
      `ballast_agents_dead ${this.#breaker?.dead.length ?? 0}`,
      "# HELP ballast_node_failovers_total Nodes moved from a dead agent to a live one.",
      "# TYPE ballast_node_failovers_total counter",
      `ballast_node_failovers_total ${this.#failovers}`,
      "# HELP ballast_scaling_changes_total Node-count changes made by scaling.",
      "# TYPE ballast_scaling_changes_total counter",
      `ballast_scaling_changes_total ${this.#scalings}`,
      "# HELP ballast_scaling_refused_total Scaling changes not made because the stored state failed verification.",
      "# TYPE ballast_scaling_refused_total counter",
      `ballast_scaling_refused_total ${this.#scalingRefusals}`,
      "# HELP ballast_load_balancer_nodes Nodes placed per load balancer and zone.",
      "# TYPE ballast_load_balancer_nodes gauge",
    ];
    for (const p of this.#nodes)
      for (const [zone, ids] of Object.entries(p.nodes))
        out.push(
          `ballast_load_balancer_nodes{load_balancer="${esc(p.name)}",zone="${esc(zone)}"} ${ids.length}`,
        );
    return `${out.join("\n")}\n`;
  }
}
