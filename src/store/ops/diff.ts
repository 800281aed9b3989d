/**
 * What changed between two states, per load balancer, in the words an operator reads in a
 * change review ("listener HTTP:80 → HTTP:8080 added", "instance i-123 deregistered"), and in a
 * structured form for JSON output. Credential secrets are never part of either.
 */
import type { Credential, HealthCheck, Listener, LoadBalancer, Tag } from "../../model/types.js";
import type { Store } from "../store.js";
import { compareKeys, docsEqual } from "./entity.js";
import { advanceState, type State, stateAt } from "./snapshot.js";

export type EntityChangeType = "created" | "deleted" | "modified";

export type LoadBalancerDetail =
  | { readonly aspect: "listener"; readonly op: "added" | "removed"; readonly listener: string }
  | { readonly aspect: "instance"; readonly op: "registered" | "deregistered"; readonly instanceId: string }
  | {
      readonly aspect: "healthCheck";
      readonly field: keyof HealthCheck;
      readonly from: string;
      readonly to: string;
    }
  | {
      readonly aspect: "tag";
      readonly op: "added" | "removed" | "changed";
      readonly key: string;
      readonly from?: string;
      readonly to?: string;
    }
  | {
      readonly aspect: "availabilityZone" | "subnet" | "securityGroup";
      readonly op: "added" | "removed";
      readonly value: string;
    }
  | { readonly aspect: "field"; readonly field: string; readonly from: string; readonly to: string };

export interface LoadBalancerDiff {
  readonly name: string;
  readonly change: EntityChangeType;
  readonly details: readonly LoadBalancerDetail[];
}

export interface InstanceDiff {
  readonly instanceId: string;
  readonly change: EntityChangeType;
  readonly before?: { readonly address: string; readonly zone: string };
  readonly after?: { readonly address: string; readonly zone: string };
}

/** A credential change, without its secret: only whether the secret changed. */
export interface CredentialDiff {
  readonly accessKeyId: string;
  readonly change: EntityChangeType;
  readonly principal: string;
  readonly role: string;
  readonly fields: readonly string[];
}

/** A change to a certificate, subnet or limit, summarised without secrets. */
export interface SettingDiff {
  readonly kind: "certificate" | "subnet" | "limit";
  readonly key: string;
  readonly change: EntityChangeType;
  readonly summary: string;
}

export interface StateDiff {
  readonly from: number;
  readonly to: number;
  readonly loadBalancers: readonly LoadBalancerDiff[];
  readonly instances: readonly InstanceDiff[];
  readonly credentials: readonly CredentialDiff[];
  readonly settings: readonly SettingDiff[];
}

export function isEmptyDiff(d: StateDiff): boolean {
  return (
    d.loadBalancers.length === 0 &&
    d.instances.length === 0 &&
    d.credentials.length === 0 &&
    d.settings.length === 0
  );
}

export function diffStates(a: State, b: State): StateDiff {
  return {
    from: a.revision,
    to: b.revision,
    loadBalancers: diffMaps(a.entities.loadBalancer, b.entities.loadBalancer, (name, change, x, y) => ({
      name,
      change,
      details: x && y ? loadBalancerDetails(x, y) : [],
    })),
    instances: diffMaps(a.entities.instance, b.entities.instance, (instanceId, change, x, y) => ({
      instanceId,
      change,
      ...(x ? { before: { address: x.address, zone: x.zone } } : {}),
      ...(y ? { after: { address: y.address, zone: y.zone } } : {}),
    })),
    credentials: diffMaps(a.entities.credential, b.entities.credential, (accessKeyId, change, x, y) => {
      const now = (y ?? x) as Credential;
      return {
        accessKeyId,
        change,
        principal: now.principal,
        role: now.role,
        fields: x && y ? credentialFields(x, y) : [],
      };
    }),
    settings: [
      ...diffMaps(a.entities.certificate, b.entities.certificate, (key, change, _x, y) => ({
        kind: "certificate" as const,
        key,
        change,
        summary: y ? `${y.subject}, valid until ${y.notAfter}` : "",
      })),
      ...diffMaps(a.entities.subnet, b.entities.subnet, (key, change, _x, y) => ({
        kind: "subnet" as const,
        key,
        change,
        summary: y ? `${y.zone}, ${y.vpcId}` : "",
      })),
      ...diffMaps(a.entities.limit, b.entities.limit, (key, change, x, y) => ({
        kind: "limit" as const,
        key,
        change,
        summary: `${x?.max ?? "unset"} → ${y?.max ?? "unset"}`,
      })),
    ],
  };
}

export async function diffRevisions(store: Store, from: number, to: number): Promise<StateDiff> {
  const a = await stateAt(store, Math.min(from, to));
  const b = await advanceState(store, a, Math.max(from, to));
  return from <= to ? diffStates(a, b) : diffStates(b, a);
}

function diffMaps<T, D>(
  a: ReadonlyMap<string, T>,
  b: ReadonlyMap<string, T>,
  make: (key: string, change: EntityChangeType, before: T | undefined, after: T | undefined) => D,
): D[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  const out: D[] = [];
  for (const key of [...keys].sort(compareKeys)) {
    const x = a.get(key);
    const y = b.get(key);
    if (x === undefined && y !== undefined) out.push(make(key, "created", x, y));
    else if (x !== undefined && y === undefined) out.push(make(key, "deleted", x, y));
    else if (!docsEqual(x, y)) out.push(make(key, "modified", x, y));
  }
  return out;
}

export function listenerText(l: Listener): string {
  const cert = l.sslCertificateId ? ` (certificate ${l.sslCertificateId})` : "";
  return `${l.protocol}:${l.loadBalancerPort} → ${l.instanceProtocol}:${l.instancePort}${cert}`;
}

const HEALTH_CHECK_FIELDS: readonly (keyof HealthCheck)[] = [
  "target",
  "interval",
  "timeout",
  "unhealthyThreshold",
  "healthyThreshold",
];
const HANDLED = new Set([
  "listeners",
  "instances",
  "healthCheck",
  "tags",
  "availabilityZones",
  "subnets",
  "securityGroups",
]);

function loadBalancerDetails(a: LoadBalancer, b: LoadBalancer): LoadBalancerDetail[] {
  const out: LoadBalancerDetail[] = [];
  for (const field of ["id", "dnsName", "createdTime", "scheme"] as const) {
    if (a[field] !== b[field])
      out.push({ aspect: "field", field, from: String(a[field]), to: String(b[field]) });
  }
  const la = a.listeners.map(listenerText);
  const lb = b.listeners.map(listenerText);
  for (const l of la) if (!lb.includes(l)) out.push({ aspect: "listener", op: "removed", listener: l });
  for (const l of lb) if (!la.includes(l)) out.push({ aspect: "listener", op: "added", listener: l });
  for (const field of HEALTH_CHECK_FIELDS) {
    const from = String(a.healthCheck[field]);
    const to = String(b.healthCheck[field]);
    if (from !== to) out.push({ aspect: "healthCheck", field, from, to });
  }
  const { added, removed } = setDiff(a.instances, b.instances);
  for (const id of added) out.push({ aspect: "instance", op: "registered", instanceId: id });
  for (const id of removed) out.push({ aspect: "instance", op: "deregistered", instanceId: id });
  for (const [aspect, field] of [
    ["availabilityZone", "availabilityZones"],
    ["subnet", "subnets"],
    ["securityGroup", "securityGroups"],
  ] as const) {
    const d = setDiff(a[field], b[field]);
    for (const value of d.added) out.push({ aspect, op: "added", value });
    for (const value of d.removed) out.push({ aspect, op: "removed", value });
  }
  out.push(...tagDetails(a.tags, b.tags));
  // Anything the model grows later still shows up, if only by name.
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const field of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (HANDLED.has(field) || ["id", "dnsName", "createdTime", "scheme", "name"].includes(field)) continue;
    if (!docsEqual(ra[field], rb[field])) {
      out.push({
        aspect: "field",
        field,
        from: JSON.stringify(ra[field]) ?? "none",
        to: JSON.stringify(rb[field]) ?? "none",
      });
    }
  }
  return out;
}

function tagDetails(a: readonly Tag[], b: readonly Tag[]): LoadBalancerDetail[] {
  const out: LoadBalancerDetail[] = [];
  const ma = new Map(a.map((t) => [t.key, t.value]));
  const mb = new Map(b.map((t) => [t.key, t.value]));
  for (const [key, value] of ma) {
    if (!mb.has(key))
      out.push({ aspect: "tag", op: "removed", key, ...(value === undefined ? {} : { from: value }) });
    else if (mb.get(key) !== value) {
      const to = mb.get(key);
      out.push({
        aspect: "tag",
        op: "changed",
        key,
        ...(value === undefined ? {} : { from: value }),
        ...(to === undefined ? {} : { to }),
      });
    }
  }
  for (const [key, value] of mb) {
    if (!ma.has(key))
      out.push({ aspect: "tag", op: "added", key, ...(value === undefined ? {} : { to: value }) });
  }
  return out;
}

function credentialFields(a: Credential, b: Credential): string[] {
  const out: string[] = [];
  for (const f of Object.keys({ ...a, ...b }) as (keyof Credential)[]) if (a[f] !== b[f]) out.push(f);
  return out.sort(compareKeys);
}

function setDiff(a: readonly string[], b: readonly string[]): { added: string[]; removed: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { added: b.filter((x) => !sa.has(x)), removed: a.filter((x) => !sb.has(x)) };
}

/** The diff as lines for a person: one per change, load balancers first. */
export function diffLines(d: StateDiff): string[] {
  const out: string[] = [];
  for (const lb of d.loadBalancers) {
    const head = `load balancer ${lb.name}`;
    if (lb.change !== "modified") out.push(`${head}: ${lb.change}`);
    for (const detail of lb.details) out.push(`${head}: ${detailText(detail)}`);
  }
  for (const i of d.instances) out.push(instanceText(i));
  for (const c of d.credentials) out.push(credentialText(c));
  for (const x of d.settings)
    out.push(`${x.kind} ${x.key}: ${x.change}${x.summary ? ` (${x.summary})` : ""}`);
  return out;
}

function detailText(d: LoadBalancerDetail): string {
  switch (d.aspect) {
    case "listener":
      return `listener ${d.listener} ${d.op}`;
    case "instance":
      return `instance ${d.instanceId} ${d.op}`;
    case "healthCheck":
      return `health check ${d.field} ${d.from} → ${d.to}`;
    case "tag":
      if (d.op === "added") return `tag ${tagText(d.key, d.to)} added`;
      if (d.op === "removed") return `tag ${tagText(d.key, d.from)} removed`;
      return `tag ${d.key} ${d.from ?? "(no value)"} → ${d.to ?? "(no value)"}`;
    case "availabilityZone":
      return `availability zone ${d.value} ${d.op}`;
    case "subnet":
      return `subnet ${d.value} ${d.op}`;
    case "securityGroup":
      return `security group ${d.value} ${d.op}`;
    case "field":
      return `${d.field} ${d.from} → ${d.to}`;
  }
}

function tagText(key: string, value: string | undefined): string {
  return value === undefined ? key : `${key}=${value}`;
}

function instanceText(i: InstanceDiff): string {
  const where = (x: { address: string; zone: string }): string => `${x.address} in ${x.zone}`;
  if (i.change === "created" && i.after)
    return `instance ${i.instanceId}: added to inventory (${where(i.after)})`;
  if (i.change === "deleted" && i.before)
    return `instance ${i.instanceId}: removed from inventory (was ${where(i.before)})`;
  return `instance ${i.instanceId}: ${i.before ? where(i.before) : "?"} → ${i.after ? where(i.after) : "?"}`;
}

function credentialText(c: CredentialDiff): string {
  const head = `credential ${c.accessKeyId} (${c.principal}, ${c.role})`;
  if (c.change !== "modified") return `${head}: ${c.change}`;
  const fields = c.fields.map((f) => (f === "secretAccessKey" ? "secret changed" : `${f} changed`));
  return `${head}: ${fields.join(", ")}`;
}
