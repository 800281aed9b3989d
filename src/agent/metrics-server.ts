/**
 * The agent's GET /metrics: the data plane's per-load-balancer numbers in the Prometheus text
 * format, named as Classic ELB's CloudWatch metrics (`ballast_elb_<Name>`), labelled with
 * `load_balancer` and `zone`. The names, types and help texts come from `proxy/metrics.ts`;
 * nothing is computed until a scrape asks.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { InstanceHealthReport } from "../model/agent-protocol.js";
import {
  HOST_GAUGES,
  LATENCY_BUCKETS_MS,
  LATENCY_METRIC,
  type LoadBalancerMetricsSnapshot,
  METRIC_PREFIX,
  SCALAR_METRICS,
} from "../proxy/metrics.js";

/** What the server reads on each scrape (a ProxyRuntime). */
export interface MetricsSource {
  readonly metrics: { snapshot(): Record<string, LoadBalancerMetricsSnapshot> };
  health(): readonly InstanceHealthReport[];
  /** The agent's connection caps and what they hold. */
  readonly connections?: {
    readonly open: number;
    readonly refused: number;
    readonly limits: { readonly maxConnections: number; readonly maxNodeConnections: number };
  };
}

/** The agent process: its open-file limit and, under a keeper, the workers started before it. */
export interface AgentProcessInfo {
  readonly fileLimit: number;
  readonly workerStarts?: number;
  readonly workerCrashes?: number;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

const EMPTY_LATENCY = { buckets: [] as number[], sumMs: 0, count: 0 };

/** Renders one scrape. Load balancers with counters or registered back ends are listed. */
export function renderAgentMetrics(
  counters: Record<string, LoadBalancerMetricsSnapshot>,
  health: readonly InstanceHealthReport[],
  zone: string,
): string {
  const names = new Set(Object.keys(counters));
  for (const h of health) names.add(h.loadBalancer);
  const lbs = [...names].sort();
  const labels = new Map(lbs.map((lb) => [lb, `load_balancer="${esc(lb)}",zone="${esc(zone)}"`]));
  const out: string[] = [];
  const header = (name: string, type: string, help: string): string => {
    const full = METRIC_PREFIX + name;
    out.push(`# HELP ${full} ${help}`, `# TYPE ${full} ${type}`);
    return full;
  };

  for (const m of SCALAR_METRICS) {
    const full = header(m.name, m.type, m.help);
    for (const lb of lbs) out.push(`${full}{${labels.get(lb)}} ${counters[lb]?.[m.name] ?? 0}`);
  }
  for (const g of HOST_GAUGES) {
    const full = header(g.name, g.type, g.help);
    for (const lb of lbs) {
      let n = 0;
      for (const h of health) if (h.loadBalancer === lb && h.state === g.state) n++;
      out.push(`${full}{${labels.get(lb)}} ${n}`);
    }
  }
  const full = header(LATENCY_METRIC.name, LATENCY_METRIC.type, LATENCY_METRIC.help);
  for (const lb of lbs) {
    const l = labels.get(lb);
    const lat = counters[lb]?.Latency ?? EMPTY_LATENCY;
    let cumulative = 0;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      cumulative += lat.buckets[i] ?? 0;
      out.push(`${full}_bucket{${l},le="${(LATENCY_BUCKETS_MS[i] as number) / 1000}"} ${cumulative}`);
    }
    out.push(`${full}_bucket{${l},le="+Inf"} ${lat.count}`);
    out.push(`${full}_sum{${l}} ${lat.sumMs / 1000}`);
    out.push(`${full}_count{${l}} ${lat.count}`);
  }
  return `${out.join("\n")}\n`;
}

/** The agent-wide connection numbers (per-load-balancer refusals are RejectedConnectionCount). */
function renderConnections(c: NonNullable<MetricsSource["connections"]>, zone: string): string {
  const z = `{zone="${esc(zone)}"}`;
  return [
    "# HELP ballast_agent_client_connections Client connections the agent holds open now.",
    "# TYPE ballast_agent_client_connections gauge",
    `ballast_agent_client_connections${z} ${c.open}`,
    "# HELP ballast_agent_client_connections_limit The agent's connection cap (below its open-file limit, with a reserve).",
    "# TYPE ballast_agent_client_connections_limit gauge",
    `ballast_agent_client_connections_limit${z} ${c.limits.maxConnections}`,
    "# HELP ballast_agent_refused_connections_total Client connections closed on accept because a connection cap was reached.",
    "# TYPE ballast_agent_refused_connections_total counter",
    `ballast_agent_refused_connections_total${z} ${c.refused}`,
    "",
  ].join("\n");
}

function renderProcess(p: AgentProcessInfo, zone: string): string {
  const z = `{zone="${esc(zone)}"}`;
  const out = [
    "# HELP ballast_agent_open_files_limit The agent's open-file limit (its connection caps derive from it).",
    "# TYPE ballast_agent_open_files_limit gauge",
    `ballast_agent_open_files_limit${z} ${p.fileLimit}`,
  ];
  if (p.workerStarts !== undefined)
    out.push(
      "# HELP ballast_agent_worker_starts_total Agent worker processes its keeper started: the first, reloads, restarts after a crash.",
      "# TYPE ballast_agent_worker_starts_total counter",
      `ballast_agent_worker_starts_total${z} ${p.workerStarts}`,
    );
  if (p.workerCrashes !== undefined)
    out.push(
      "# HELP ballast_agent_worker_crashes_total Agent worker processes that exited without being asked to.",
      "# TYPE ballast_agent_worker_crashes_total counter",
      `ballast_agent_worker_crashes_total${z} ${p.workerCrashes}`,
    );
  return `${out.join("\n")}\n`;
}

/** Serves GET /metrics on `host:port` (port 0: the system picks a free one; read it from the result). */
export async function startMetricsServer(opts: {
  readonly source: MetricsSource;
  readonly zone: string;
  readonly port: number;
  readonly host?: string;
  readonly process?: AgentProcessInfo;
}): Promise<MetricsServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" || (req.url !== "/metrics" && !req.url?.startsWith("/metrics?"))) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    const c = opts.source.connections;
    const body =
      renderAgentMetrics(opts.source.metrics.snapshot(), opts.source.health(), opts.zone) +
      (c === undefined ? "" : renderConnections(c, opts.zone)) +
      (opts.process === undefined ? "" : renderProcess(opts.process, opts.zone));
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }).end(body);
  });
  server.listen(opts.port, opts.host ?? "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
