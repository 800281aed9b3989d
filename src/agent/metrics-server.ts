/**
 * The agent's metrics listener: GET /metrics (Prometheus text), /healthz and /readyz, on by
 * default. The data plane's numbers are labelled `load_balancer`, `zone` and `listener` (the
 * load-balancer port); per-back-end series add `backend` (the instance id). Names, types and help
 * texts come from `proxy/metrics.ts`; nothing is computed until a scrape asks.
 *
 * Cardinality is bounded by the configuration: a series exists only for a load balancer,
 * listener or back end the agent runs now, and leaves the next scrape after its removal; per-
 * back-end series stop at MAX_BACKEND_SERIES per agent.
 */
import type { HealthFailureKind, InstanceHealthReport } from "../model/agent-protocol.js";
import {
  BACKEND_METRICS,
  type BackendStats,
  HOST_GAUGES,
  LATENCY_BUCKETS_MS,
  LATENCY_METRIC,
  LISTENER_METRICS,
  type ListenerMetricsSnapshot,
  MAX_BACKEND_SERIES,
} from "../proxy/metrics.js";
import type { Logger } from "../util/logger.js";
import {
  type ObservabilityServer,
  type Readiness,
  startObservabilityServer,
} from "../util/observability-server.js";
import { renderProcessMetrics, startProcessMetrics } from "../util/process-metrics.js";
import { Exposition, labelText } from "../util/prometheus.js";

/** What a scrape reads (a ProxyRuntime). */
export interface MetricsSource {
  readonly metrics: { listeners(): readonly ListenerMetricsSnapshot[] };
  health(): readonly InstanceHealthReport[];
  /** Failed health checks per load balancer and reason kind (absent: not rendered). */
  healthCheckFailures?(): Record<string, ReadonlyMap<HealthFailureKind, number>>;
  backends(): readonly {
    readonly loadBalancer: string;
    readonly health: {
      readonly instanceId: string;
      readonly inService: boolean;
      readonly stats: BackendStats;
    };
  }[];
  /** The agent's connection caps and what they hold. */
  readonly connections?: {
    readonly open: number;
    readonly refused: number;
    readonly limits: { readonly maxConnections: number; readonly maxNodeConnections: number };
  };
}

/** The agent's own state, beside the data plane's. */
export interface AgentState {
  /** Journal revision of the configuration the agent runs (0: none yet). */
  readonly revision: number;
  readonly readiness: Readiness;
  /** Under a keeper: the worker processes it started (this one included) and those that crashed. */
  readonly workers?: { readonly starts: number; readonly crashes: number };
}

const LATENCY_BOUNDS_S = LATENCY_BUCKETS_MS.map((ms) => ms / 1000);

/**
 * Listeners (or load balancers) rendered between two turns of the event loop: an agent of 10,000
 * load balancers renders hundreds of thousands of lines per scrape, and its proxies, health checks
 * and configuration channel must not wait for all of them at once.
 */
const ROWS_PER_TURN = 500;

/** Called once per row rendered: every `ROWS_PER_TURN` rows, resolves on the event loop's next turn. */
function turns(): () => Promise<void> | undefined {
  let n = 0;
  return () => (++n % ROWS_PER_TURN === 0 ? new Promise<void>((r) => setImmediate(r)) : undefined);
}

/** Renders the data plane's families (without process metrics), yielding to the event loop as it goes. */
export async function renderDataPlane(
  source: MetricsSource,
  zone: string,
  exp = new Exposition(),
): Promise<Exposition> {
  const turn = turns();
  const listeners = [...source.metrics.listeners()].sort((a, b) =>
    a.loadBalancer === b.loadBalancer ? a.port - b.port : a.loadBalancer < b.loadBalancer ? -1 : 1,
  );
  const lbLabels = (lb: string): string => labelText({ load_balancer: lb, zone });
  const listenerLabels = listeners.map((l) => `${lbLabels(l.loadBalancer)},listener="${l.port}"`);

  for (const family of LISTENER_METRICS) {
    exp.family(family.name, family.type, family.help);
    for (const [i, l] of listeners.entries()) {
      for (const s of family.series) {
        const extra = s.labels === undefined ? "" : `,${labelText(s.labels)}`;
        exp.sample(family.name, `${listenerLabels[i]}${extra}`, l.metrics[s.cloudWatch]);
      }
      await turn();
    }
  }
  exp.family(LATENCY_METRIC.name, "histogram", LATENCY_METRIC.help);
  for (const [i, l] of listeners.entries()) {
    const lat = l.metrics.Latency;
    exp.histogram(
      LATENCY_METRIC.name,
      listenerLabels[i] as string,
      LATENCY_BOUNDS_S,
      lat.buckets,
      lat.sumMs / 1000,
    );
    await turn();
  }

  // Host counts per load balancer (and zone): every load balancer with a listener or a back end.
  // Counted in one pass over the back ends (not one per load balancer).
  const counts = new Map<string, Map<string, number>>();
  for (const l of listeners) counts.set(l.loadBalancer, counts.get(l.loadBalancer) ?? new Map());
  for (const h of source.health()) {
    const byState = counts.get(h.loadBalancer) ?? new Map<string, number>();
    byState.set(h.state, (byState.get(h.state) ?? 0) + 1);
    counts.set(h.loadBalancer, byState);
  }
  const sorted = [...counts.keys()].sort();
  for (const g of HOST_GAUGES) {
    exp.family(g.name, "gauge", g.help);
    for (const lb of sorted) {
      exp.sample(g.name, lbLabels(lb), counts.get(lb)?.get(g.state) ?? 0);
      await turn();
    }
  }
  renderBackends(source, zone, exp);
  const failures = source.healthCheckFailures?.();
  if (failures !== undefined) renderHealthCheckFailures(failures, zone, exp);
  const c = source.connections;
  if (c !== undefined) {
    const z = labelText({ zone });
    exp
      .family("ballast_agent_client_connections", "gauge", "Client connections the agent holds open now.")
      .sample("ballast_agent_client_connections", z, c.open)
      .family(
        "ballast_agent_client_connections_limit",
        "gauge",
        "The agent's connection cap (below its open-file limit, with a reserve).",
      )
      .sample("ballast_agent_client_connections_limit", z, c.limits.maxConnections)
      .family(
        "ballast_agent_refused_connections_total",
        "counter",
        "Client connections closed on accept because a connection cap was reached.",
      )
      .sample("ballast_agent_refused_connections_total", z, c.refused);
  }
  return exp;
}

/** Failed health checks by why they failed: a back end's `L7STS/404` or `L4CON refused` over time. */
export function renderHealthCheckFailures(
  failures: Record<string, ReadonlyMap<HealthFailureKind, number>>,
  zone: string,
  exp = new Exposition(),
): Exposition {
  const name = "ballast_agent_health_check_failures_total";
  exp.family(
    name,
    "counter",
    "Failed health checks by reason kind (status, refused, reset, timeout, tls, dns, other).",
  );
  for (const lb of Object.keys(failures).sort())
    for (const [kind, n] of [...(failures[lb] ?? new Map<HealthFailureKind, number>())].sort())
      exp.sample(name, labelText({ load_balancer: lb, zone, kind }), n);
  return exp;
}

function renderBackends(source: MetricsSource, zone: string, exp: Exposition): void {
  const all = [...source.backends()].sort((a, b) =>
    a.loadBalancer === b.loadBalancer
      ? a.health.instanceId < b.health.instanceId
        ? -1
        : 1
      : a.loadBalancer < b.loadBalancer
        ? -1
        : 1,
  );
  const shown = all.slice(0, MAX_BACKEND_SERIES);
  const labels = shown.map((b) =>
    labelText({ load_balancer: b.loadBalancer, zone, backend: b.health.instanceId }),
  );
  const m = BACKEND_METRICS;
  exp.family(m.up.name, "gauge", m.up.help);
  for (const [i, b] of shown.entries())
    exp.sample(m.up.name, labels[i] as string, b.health.inService ? 1 : 0);
  exp.family(m.responses.name, "counter", m.responses.help);
  for (const [i, b] of shown.entries()) {
    const s = b.health.stats;
    const l = labels[i] as string;
    exp
      .sample(m.responses.name, `${l},code_class="2xx"`, s.responses2xx)
      .sample(m.responses.name, `${l},code_class="3xx"`, s.responses3xx)
      .sample(m.responses.name, `${l},code_class="4xx"`, s.responses4xx)
      .sample(m.responses.name, `${l},code_class="5xx"`, s.responses5xx);
  }
  exp.family(m.connections.name, "counter", m.connections.help);
  for (const [i, b] of shown.entries())
    exp.sample(m.connections.name, labels[i] as string, b.health.stats.connections);
  exp.family(m.errors.name, "counter", m.errors.help);
  for (const [i, b] of shown.entries())
    exp.sample(m.errors.name, labels[i] as string, b.health.stats.connectionErrors);
  exp.family(m.latency.name, "histogram", m.latency.help);
  for (const [i, b] of shown.entries()) {
    const h = b.health.stats.latency;
    exp.histogram(m.latency.name, labels[i] as string, LATENCY_BOUNDS_S, h.counts, h.sum / 1000);
  }
  exp.family(m.omitted.name, "gauge", m.omitted.help);
  exp.sample(m.omitted.name, labelText({ zone }), all.length - shown.length);
}

/** One whole scrape of an agent: its state, the data plane, the process. */
export async function renderAgentMetrics(
  source: MetricsSource,
  zone: string,
  agent: AgentState,
): Promise<string> {
  const exp = new Exposition();
  const z = labelText({ zone });
  exp
    .family("ballast_agent_config_revision", "gauge", "Journal revision of the configuration the agent runs.")
    .sample("ballast_agent_config_revision", z, agent.revision)
    .family(
      "ballast_agent_ready",
      "gauge",
      "1 when the agent has applied a configuration and bound its listeners.",
    )
    .sample("ballast_agent_ready", z, agent.readiness.ready ? 1 : 0);
  if (agent.workers !== undefined)
    exp
      .family(
        "ballast_agent_worker_starts_total",
        "counter",
        "Agent worker processes its keeper started: the first, reloads, restarts after a crash.",
      )
      .sample("ballast_agent_worker_starts_total", z, agent.workers.starts)
      .family(
        "ballast_agent_worker_crashes_total",
        "counter",
        "Agent worker processes that exited without being asked to.",
      )
      .sample("ballast_agent_worker_crashes_total", z, agent.workers.crashes);
  await renderDataPlane(source, zone, exp);
  await renderProcessMetrics(exp);
  return exp.text();
}

/** Serves the agent's /metrics, /healthz and /readyz on `host:port` (port 0: a free one). */
export function startMetricsServer(opts: {
  readonly source: MetricsSource;
  readonly zone: string;
  readonly agent: () => AgentState;
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
}): Promise<ObservabilityServer> {
  startProcessMetrics();
  return startObservabilityServer(
    {
      metrics: () => renderAgentMetrics(opts.source, opts.zone, opts.agent()),
      readiness: async () => opts.agent().readiness,
      logger: opts.logger,
    },
    opts.host,
    opts.port,
  );
}
