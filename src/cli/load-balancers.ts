/**
 * `ballast lb list`, `ballast lb show NAME` and `ballast health NAME`: the operator's view of load
 * balancers through the signed admin API — what each is set to do, how its back ends are doing
 * and why one failed (`L7STS/404`, `L4CON refused`, …), and where its nodes run. `--json` prints
 * the API's answer as is.
 */
import type { HealthCheckFailure } from "../model/agent-protocol.js";
import type {
  InstanceView,
  LoadBalancerList,
  LoadBalancerShow,
  LoadBalancerStats,
} from "../model/load-balancer-view.js";
import { signedClient } from "./client.js";
import { parseCommand } from "./command.js";
import { UsageError } from "./errors.js";
import { answerJson, type SignedClient } from "./signed-client.js";
import { HEALTH, LB } from "./specs/load-balancers.js";

export async function lbCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(LB, argv);
  const client = await signedClient(values);
  const [name, ...extra] = positionals;
  if (verb === "list" && name === undefined) return list(client, values.json);
  if (verb === "show" && name !== undefined && extra.length === 0) return show(client, name, values.json);
  throw new UsageError(
    verb === "show" ? "lb show needs one load-balancer NAME" : "lb list takes no argument",
  );
}

export async function healthCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(HEALTH, argv);
  const client = await signedClient(values);
  const json = values.json;
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError("health needs one load-balancer NAME");
  const r = await fetchShow(client, "health", name);
  if (r === undefined) return;
  if (json) {
    print(JSON.stringify({ loadBalancer: r.loadBalancer.name, instances: r.instances }, null, 2));
    return;
  }
  if (r.instances.length === 0) {
    print(`${name}: no instances registered`);
    return;
  }
  table([
    ["INSTANCE", "ZONE", "STATE", "REASON", "DESCRIPTION"],
    ...r.instances.map((i) => [i.instanceId, i.zone || "-", i.state, reason(i), i.description]),
  ]);
}

async function list(client: SignedClient, json: boolean): Promise<void> {
  const r = answerJson<LoadBalancerList>("lb list", await client.send("GET", "/admin/v1/load-balancers"));
  if (r === undefined) return;
  if (json) {
    print(JSON.stringify(r, null, 2));
    return;
  }
  if (r.loadBalancers.length === 0) {
    print("no load balancers");
    return;
  }
  table([
    ["NAME", "ZONES", "LISTENERS", "IN SERVICE", "OUT OF SERVICE", "UNKNOWN", "DNS NAME"],
    ...r.loadBalancers.map((lb) => [
      lb.name,
      lb.zones.join(","),
      String(lb.listeners),
      String(lb.instances.inService),
      String(lb.instances.outOfService),
      String(lb.instances.unknown),
      lb.dnsName,
    ]),
  ]);
}

async function show(client: SignedClient, name: string, json: boolean): Promise<void> {
  const r = await fetchShow(client, "lb show", name);
  if (r === undefined) return;
  if (json) {
    print(JSON.stringify(r, null, 2));
    return;
  }
  const lb = r.loadBalancer;
  const hc = lb.healthCheck;
  const a = lb.attributes;
  print(`${lb.name}  ${lb.region}  ${lb.scheme}  created ${lb.createdAt}`);
  print(`  DNS name      ${lb.dnsName}`);
  print(
    `  health check  ${hc.target} every ${hc.interval} s, timeout ${hc.timeout} s, ` +
      `healthy after ${hc.healthyThreshold}, unhealthy after ${hc.unhealthyThreshold}`,
  );
  print(
    `  attributes    cross-zone ${a.crossZone ? "on" : "off"}, idle timeout ${a.idleTimeout} s, ` +
      `connection draining ${a.connectionDraining.enabled ? `${a.connectionDraining.timeout} s` : "off"}, ` +
      `access log ${a.accessLog.enabled ? "on" : "off"}`,
  );
  print(`  traffic       ${await trafficLine(client, name)}`);
  print("");
  print("LISTENERS");
  table(
    [
      ["PROTOCOL", "PORT", "INSTANCE", "CERTIFICATE", "POLICIES"],
      ...lb.listeners.map((l) => [
        l.protocol,
        String(l.port),
        `${l.instanceProtocol}:${l.instancePort}`,
        l.sslCertificateId ?? "-",
        l.policies.join(",") || "-",
      ]),
    ],
    "  ",
  );
  print("");
  print("INSTANCES");
  if (r.instances.length === 0) print("  none registered");
  const zones = [...new Set(r.instances.map((i) => i.zone))].sort();
  for (const zone of zones) {
    print(`  ${zone || "(zone unknown)"}`);
    table(
      [
        ["INSTANCE", "STATE", "REASON", "DESCRIPTION"],
        ...r.instances
          .filter((i) => i.zone === zone)
          .map((i) => [i.instanceId, i.state, reason(i), i.description]),
      ],
      "    ",
    );
  }
  print("");
  print("NODES");
  if (r.nodes.length === 0) print("  none reported");
  else
    table(
      [
        ["ZONE", "AGENT", "ADDRESS", "LISTENERS", "REPORT"],
        ...r.nodes.map((n) => [
          n.zone,
          n.agentId,
          n.address,
          n.listeners.map((l) => `${l.protocol}:${l.port}${l.bound ? "" : " (not bound)"}`).join(", ") || "-",
          n.stale ? "stale" : "fresh",
        ]),
      ],
      "  ",
    );
}

/** The last minute's traffic in one line, from the stats route (a failure there is only noted). */
async function trafficLine(client: SignedClient, name: string): Promise<string> {
  const res = await client.send(
    "GET",
    `/admin/v1/load-balancers/${encodeURIComponent(name)}/stats?seconds=60`,
  );
  if (res.status !== 200) return `unknown (stats answered ${res.status})`;
  const { points } = JSON.parse(res.body) as LoadBalancerStats;
  if (points.length === 0) return "none in the last 15 minutes";
  const n = points.length;
  const avg = (f: (p: LoadBalancerStats["points"][number]) => number): number =>
    points.reduce((sum, p) => sum + f(p), 0) / n;
  const last = points[n - 1];
  const ms = (s: number): string => `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
  return (
    `last minute ${avg((p) => p.requestsPerSecond).toFixed(1)} req/s, ` +
    `4XX ${avg((p) => p.http4xxPerSecond).toFixed(1)}/s, 5XX ${avg((p) => p.http5xxPerSecond).toFixed(1)}/s; ` +
    `latest p50 ${ms(last?.latencyP50Seconds ?? 0)}, p99 ${ms(last?.latencyP99Seconds ?? 0)}, ` +
    `${last?.activeConnections ?? 0} connections, surge queue ${last?.surgeQueueLength ?? 0}`
  );
}

function fetchShow(client: SignedClient, verb: string, name: string): Promise<LoadBalancerShow | undefined> {
  return client
    .send("GET", `/admin/v1/load-balancers/${encodeURIComponent(name)}`)
    .then((res) => answerJson<LoadBalancerShow>(verb, res));
}

/**
 * What an operator wants to know about an instance: for one not in service, why its last check
 * failed and how long ago; for one in service, a recent failure too (a flapping back end).
 */
function reason(i: InstanceView): string {
  const f = i.lastFailure;
  if (f === undefined) return "-";
  return `${f.detail} (${age(f)} ago)`;
}

function age(f: HealthCheckFailure): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(f.at)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** Prints rows as aligned columns (the last column unpadded). */
function table(rows: readonly (readonly string[])[], indent = ""): void {
  const widths: number[] = [];
  for (const r of rows)
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, (r[i] ?? "").length);
  for (const r of rows)
    print(indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
}

function print(line: string): void {
  console.log(line);
}
