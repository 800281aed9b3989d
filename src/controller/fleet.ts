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
import { LoadSampler, renderFleetMetrics } from "./fleet-signals.js";

export interface FleetOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** True on the one controller that runs workflows (a single control plane: always). */
  readonly isActiveController: () => boolean;
  /** The state monitor's last verdict: scaling acts only on state that verifies. */
  readonly stateVerified: () => boolean;
  /** Why the workflow must not write now (read-only mode: the journal is damaged), or undefined. */
  readonly paused?: () => string | undefined;
  /** An agent silent this long is dead and its nodes move (default 15 s). */
  readonly failoverTimeoutMs?: number;
  /** More than this share of agents dead at once: nothing moves, an alarm (default 0.5). */
  readonly failoverThreshold?: number;
  readonly scaling?: ScalingPolicy;
  readonly tickMs?: number;
  readonly now?: () => number;
}

/**
 * An agent silent longer than this, holding no node, no longer counts for the breaker: it was
 * taken out of service (revoking its key takes it out at once).
 */
const BREAKER_MEMORY_MS = 60 * 60 * 1000;

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

interface Trust {
  /** Load balancers whose placement the fleet leaves as it is this tick. */
  readonly untouchable: ReadonlySet<string>;
  /** Placements whose load balancer the journal deleted. */
  readonly deletable: ReadonlySet<string>;
}

export class Fleet {
  readonly #opts: FleetOptions;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #scaling: ScalingPolicy;
  readonly #startedAt: number;
  readonly #alarms = new Map<FleetAlarm["kind"], FleetAlarm>();
  readonly #sampler = new LoadSampler();
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
    // A damaged journal takes no revision from anyone; agents keep what they run meanwhile.
    if (this.#opts.paused?.() !== undefined) return;
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
    const loads = this.#sampler.loads(statuses, now, this.#timeoutMs);
    const verified = this.#opts.stateVerified();

    const lbs = (await store.list("loadBalancer")).map((c) => c.doc);
    const trust = await this.#trust(
      lbs,
      placements.map((c) => c.doc),
    );
    const plan = (lbs: readonly LoadBalancer[], placed: readonly Placement[]): Plan =>
      this.#plan(lbs, placed, trust, agents, loads, now, frozen, verified);
    // A dry run first: most ticks change nothing and write nothing; the action names the decision.
    const dry = plan(
      lbs,
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

  /**
   * What the current state may be trusted for. A placement the journal has but the current state
   * lacks, or a load balancer it lacks that the journal never deleted, is damage the state monitor
   * repairs (the 2012 failure): placing anew or dropping the placement then would move nodes on
   * incomplete state. Such load balancers are left alone until the state is whole again.
   */
  async #trust(lbs: readonly LoadBalancer[], placed: readonly Placement[]): Promise<Trust> {
    const { store } = this.#opts;
    const placedKeys = new Set(placed.map((p) => p.loadBalancer));
    const lbKeys = new Set(lbs.map((lb) => entityKey("loadBalancer", lb)));
    const untouchable = new Set<string>();
    const deletable = new Set<string>();
    for (const key of lbKeys) {
      if (placedKeys.has(key)) continue;
      const last = (await store.history("placement", key)).at(-1);
      if (last !== undefined && last.doc !== null) untouchable.add(key);
    }
    for (const key of placedKeys) {
      if (lbKeys.has(key)) continue;
      const last = (await store.history("loadBalancer", key)).at(-1);
      if (last === undefined || last.doc === null) deletable.add(key);
      else untouchable.add(key);
    }
    if (untouchable.size > 0)
      this.#opts.logger.warn("placement left alone: the current state lacks what the journal has", {
        loadBalancers: [...untouchable],
      });
    return { untouchable, deletable };
  }

  #plan(
    lbs: readonly LoadBalancer[],
    placed: readonly Placement[],
    trust: Trust,
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
      if (trust.untouchable.has(key)) continue;
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
    // Only when the journal says it was deleted: a load balancer missing from the current state alone is damage.
    for (const key of current.keys())
      if (!wanted.has(key) && trust.deletable.has(key)) plan.deletes.push(key);
    return plan;
  }

  #liveness(
    statuses: readonly AgentStatus[],
    placements: readonly Placement[],
    revoked: ReadonlySet<string>,
    now: number,
  ): AgentLiveness[] {
    const byId = new Map<string, AgentLiveness>();
    const remembered = new Set<string>();
    for (const s of statuses) {
      const age = now - Date.parse(s.time);
      const live = age <= this.#timeoutMs && !revoked.has(s.agentId);
      byId.set(s.agentId, { agentId: s.agentId, zone: s.zone, live });
      if (age <= BREAKER_MEMORY_MS && !revoked.has(s.agentId)) remembered.add(s.agentId);
    }
    const holding = new Set<string>();
    for (const p of placements)
      for (const [zone, ids] of Object.entries(p.nodes))
        for (const id of ids) {
          holding.add(id);
          if (!byId.has(id)) byId.set(id, { agentId: id, zone, live: false });
        }
    // The breaker's population: agents that serve something, and agents heard from lately (an
    // empty agent going silent with the rest is as much a sign the control plane is cut off).
    return [...byId.values()].filter((a) => a.live || holding.has(a.agentId) || remembered.has(a.agentId));
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
    return renderFleetMetrics({
      breakerOpen: this.#breaker?.open === true,
      deadAgents: this.#breaker?.dead.length ?? 0,
      failovers: this.#failovers,
      scalings: this.#scalings,
      scalingRefusals: this.#scalingRefusals,
      placements: this.#nodes,
    });
  }
}
