/**
 * The operator's view of load balancers: what each is configured to do (from the store), how its
 * back ends and nodes are doing (from the agents' reports, with the reason of each back end's
 * last failed health check), and its traffic of the last 15 minutes (store/traffic-history.ts).
 *
 *   GET /admin/v1/load-balancers                       → { loadBalancers: Summary[] }
 *   GET /admin/v1/load-balancers/{name}                → { loadBalancer, instances, nodes }
 *   GET /admin/v1/load-balancers/{name}/stats?seconds= → { intervalSeconds, points }
 *
 * Load balancers are those of the request's region (its SigV4 scope, or `?region=`). The
 * instances' state, reason code and description are DescribeInstanceHealth's, word for word; the
 * failure reason (`lastFailure`) is shown here and never in the ELB API.
 */
import type { AgentStatus, HealthCheckFailure } from "../../model/agent-protocol.js";
import { loadBalancerAttributes } from "../../model/attributes.js";
import { BallastError } from "../../model/errors.js";
import { backendOf } from "../../model/instances.js";
import type {
  InstanceView,
  LoadBalancerDetail,
  LoadBalancerList,
  LoadBalancerShow,
  LoadBalancerStats,
  LoadBalancerSummary,
  NodeView,
} from "../../model/load-balancer-view.js";
import { regionOf, regionServedBy } from "../../model/region.js";
import type { Instance, LoadBalancer } from "../../model/types.js";
import type { Store } from "../../store/store.js";
import { INTERVAL_SECONDS, type TrafficHistory } from "../../store/traffic-history.js";
import { aggregateHealth, STATUS_MAX_AGE_MS } from "../aws-query/actions/instance-health.js";
import { loadBalancerKey } from "../aws-query/load-balancer-kit.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, wholeParam } from "./common.js";

const LOAD_BALANCERS = `${ADMIN_PREFIX}/load-balancers`;
const DEFAULT_STATS_SECONDS = 300;
const MAX_STATS_SECONDS = 900;

export function isLoadBalancersPath(path: string): boolean {
  return isBelow(path, LOAD_BALANCERS);
}

/** LoadBalancerNotFound, with the admin API's status for a missing resource. */
class LoadBalancerNotFound extends BallastError {
  constructor(name: string) {
    super("LoadBalancerNotFound", `There is no load balancer named '${name}' in this region`);
  }
  override get status(): number {
    return 404;
  }
}

export interface LoadBalancerRoutesOptions {
  readonly store: Store;
  /** The traffic the agents reported to this process; none: every stats answer is empty. */
  readonly traffic?: TrafficHistory;
}

export function createLoadBalancerRoutes(
  opts: LoadBalancerRoutesOptions,
): (call: AdminCall, query: URLSearchParams) => Promise<Json> {
  const { store } = opts;
  return async (call, query) => {
    const segments = call.path
      .slice(LOAD_BALANCERS.length)
      .split("/")
      .filter((s) => s !== "");
    if (call.method !== "GET" || segments.length > 2 || (segments.length === 2 && segments[1] !== "stats"))
      throw new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
    const [raw] = segments;
    if (raw === undefined) return list(call.region);
    const name = decode(raw);
    const found = await store.get("loadBalancer", loadBalancerKey(call.region, name));
    if (!found) throw new LoadBalancerNotFound(name);
    if (segments.length === 2) {
      const seconds =
        wholeParam(query, "seconds", INTERVAL_SECONDS, MAX_STATS_SECONDS) ?? DEFAULT_STATS_SECONDS;
      const stats: LoadBalancerStats = {
        intervalSeconds: INTERVAL_SECONDS,
        points: opts.traffic?.points(call.region, name, seconds) ?? [],
      };
      return stats;
    }
    return show(found.doc);
  };

  async function list(region: string): Promise<LoadBalancerList> {
    const [lbs, statuses, inventory] = await Promise.all([
      store.list("loadBalancer"),
      store.agentStatuses(),
      instanceInventory(store),
    ]);
    const now = new Date();
    const loadBalancers = lbs
      .map((c) => c.doc)
      .filter((lb) => regionOf(lb) === region)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((lb): LoadBalancerSummary => {
        const instances = { inService: 0, outOfService: 0, unknown: 0 };
        for (const id of lb.instances) {
          const h = aggregateHealth(lb, inventory.get(id), id, statuses, now);
          if (h.state === "InService") instances.inService++;
          else if (h.state === "OutOfService") instances.outOfService++;
          else instances.unknown++;
        }
        return {
          name: lb.name,
          region,
          dnsName: lb.dnsName,
          zones: lb.availabilityZones,
          listeners: lb.listeners.length,
          instances,
          createdAt: lb.createdTime,
        };
      });
    return { loadBalancers };
  }

  async function show(lb: LoadBalancer): Promise<LoadBalancerShow> {
    const [statuses, inventory] = await Promise.all([store.agentStatuses(), instanceInventory(store)]);
    const now = new Date();
    return {
      loadBalancer: describe(lb),
      instances: lb.instances.map((id): InstanceView => {
        const h = aggregateHealth(lb, inventory.get(id), id, statuses, now);
        const lastFailure = latestFailure(lb.name, id, statuses, now);
        return {
          instanceId: id,
          zone: backendOf(id, inventory.get(id), lb)?.zone ?? "",
          state: h.state,
          reasonCode: h.reasonCode,
          description: h.description,
          ...(lastFailure === undefined ? {} : { lastFailure }),
        };
      }),
      nodes: nodesOf(lb, statuses, now),
    };
  }
}

function describe(lb: LoadBalancer): LoadBalancerDetail {
  const attributes = loadBalancerAttributes(lb);
  const { healthCheck: hc } = lb;
  return {
    name: lb.name,
    region: regionOf(lb),
    dnsName: lb.dnsName,
    zones: lb.availabilityZones,
    subnets: lb.subnets,
    securityGroups: lb.securityGroups,
    scheme: lb.scheme,
    createdAt: lb.createdTime,
    listeners: lb.listeners.map((l) => ({
      protocol: l.protocol,
      port: l.loadBalancerPort,
      instanceProtocol: l.instanceProtocol,
      instancePort: l.instancePort,
      ...(l.sslCertificateId === undefined ? {} : { sslCertificateId: l.sslCertificateId }),
      policies: l.policyNames ?? [],
    })),
    policies: (lb.policies ?? []).map((p) => ({
      name: p.policyName,
      type: p.policyTypeName,
      attributes: Object.fromEntries(p.attributes.map((a) => [a.name, a.value])),
    })),
    attributes: {
      crossZone: attributes.crossZoneLoadBalancing.enabled,
      idleTimeout: attributes.connectionSettings.idleTimeout,
      connectionDraining: attributes.connectionDraining,
      accessLog: attributes.accessLog,
    },
    healthCheck: {
      target: hc.target,
      interval: hc.interval,
      timeout: hc.timeout,
      healthyThreshold: hc.healthyThreshold,
      unhealthyThreshold: hc.unhealthyThreshold,
    },
  };
}

function isFresh(s: AgentStatus, now: Date): boolean {
  return now.getTime() - Date.parse(s.time) <= STATUS_MAX_AGE_MS;
}

/** The most recent failed check of the instance that a fresh agent report tells of. */
function latestFailure(
  lb: string,
  instanceId: string,
  statuses: readonly AgentStatus[],
  now: Date,
): HealthCheckFailure | undefined {
  let latest: HealthCheckFailure | undefined;
  for (const s of statuses) {
    if (!isFresh(s, now)) continue;
    for (const h of s.health) {
      if (h.loadBalancer !== lb || h.instanceId !== instanceId || !isFailure(h.lastFailure)) continue;
      if (latest === undefined || Date.parse(h.lastFailure.at) > Date.parse(latest.at))
        latest = h.lastFailure;
    }
  }
  return latest;
}

/** An agent's report is trusted for its shape, not its every field: a failure must read as one. */
function isFailure(f: HealthCheckFailure | undefined): f is HealthCheckFailure {
  return (
    f !== undefined && typeof f.kind === "string" && typeof f.detail === "string" && typeof f.at === "string"
  );
}

/** Every agent report of a node of the load balancer, in its region: stale ones marked. */
function nodesOf(lb: LoadBalancer, statuses: readonly AgentStatus[], now: Date): NodeView[] {
  const region = regionOf(lb);
  const out: NodeView[] = [];
  const sorted = [...statuses].sort((a, b) =>
    a.zone === b.zone ? (a.agentId < b.agentId ? -1 : 1) : a.zone < b.zone ? -1 : 1,
  );
  for (const s of sorted) {
    if (regionServedBy(s.zone) !== region) continue;
    for (const n of s.nodes) {
      if (n.loadBalancer !== lb.name) continue;
      out.push({
        zone: s.zone,
        agentId: s.agentId,
        address: n.address,
        listeners: n.listeners.map((l) => ({ port: l.port, protocol: l.protocol, bound: l.bound })),
        stale: !isFresh(s, now),
      });
    }
  }
  return out;
}

async function instanceInventory(store: Store): Promise<Map<string, Instance>> {
  return new Map((await store.list("instance")).map((c) => [c.doc.instanceId, c.doc]));
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BallastError("ValidationError", "The load balancer name is not valid percent-encoding");
  }
}
