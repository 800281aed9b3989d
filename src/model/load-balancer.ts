/**
 * Pure builders for LoadBalancer values: the defaults Classic ELB applies, the DNS name, and the
 * comparisons the API needs. No I/O and no randomness: ids and clocks are passed in.
 */
import type { HealthCheck, Listener, LoadBalancer, Scheme, Tag } from "./types.js";

/** What a CreateLoadBalancer call asks for, validated. */
export interface LoadBalancerSpec {
  readonly name: string;
  readonly scheme: Scheme;
  readonly listeners: readonly Listener[];
  readonly availabilityZones: readonly string[];
  readonly subnets: readonly string[];
  /** Set for a load balancer in subnets: their VPC. */
  readonly vpcId?: string;
  readonly securityGroups: readonly string[];
  readonly tags: readonly Tag[];
}

export interface DnsSettings {
  /** The load balancer's region: in its DNS name, and stored with it. */
  readonly region: string;
  /** The DNS domain Ballast answers for; load balancers live under `<region>.elb.<domain>`. */
  readonly dnsDomain: string;
}

/** The health check ELB gives a new load balancer: a TCP check of the first listener's instance port. */
export function defaultHealthCheck(listeners: readonly Listener[]): HealthCheck {
  const port = listeners[0]?.instancePort ?? 80;
  return { target: `TCP:${port}`, interval: 30, timeout: 5, unhealthyThreshold: 2, healthyThreshold: 10 };
}

/** `<name>-<id>.<region>.elb.<domain>`; internal load balancers get the `internal-` prefix, as in AWS. */
export function loadBalancerDnsName(name: string, id: string, scheme: Scheme, dns: DnsSettings): string {
  const prefix = scheme === "internal" ? "internal-" : "";
  return `${prefix}${name}-${id}.${dns.region}.elb.${dns.dnsDomain}`;
}

/** A ten-digit id from a source of random bytes (crypto in production, fixed in tests). */
export function loadBalancerIdFrom(bytes: Uint8Array): string {
  let id = "";
  for (const b of bytes) {
    if (id.length === 10) break;
    id += String(b % 10);
  }
  // A leading zero would read as a shorter number in logs and DNS names; AWS ids never start with one.
  return (id.startsWith("0") ? `1${id.slice(1)}` : id).padEnd(10, "1");
}

export function buildLoadBalancer(
  spec: LoadBalancerSpec,
  identity: { readonly id: string; readonly createdTime: string },
  dns: DnsSettings,
): LoadBalancer {
  return {
    name: spec.name,
    region: dns.region,
    id: identity.id,
    dnsName: loadBalancerDnsName(spec.name, identity.id, spec.scheme, dns),
    createdTime: identity.createdTime,
    scheme: spec.scheme,
    listeners: spec.listeners,
    availabilityZones: spec.availabilityZones,
    subnets: spec.subnets,
    ...(spec.vpcId === undefined ? {} : { vpcId: spec.vpcId }),
    securityGroups: spec.securityGroups,
    healthCheck: defaultHealthCheck(spec.listeners),
    instances: [],
    tags: spec.tags,
  };
}

function sameListeners(a: readonly Listener[], b: readonly Listener[]): boolean {
  if (a.length !== b.length) return false;
  const key = (l: Listener): string =>
    [l.protocol, l.loadBalancerPort, l.instanceProtocol, l.instancePort, l.sslCertificateId ?? ""].join("|");
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

/**
 * Whether a repeated CreateLoadBalancer asks for what already exists, making the call idempotent.
 * Tags are not part of the comparison: AWS treats them as added separately (AddTags).
 */
export function matchesSpec(lb: LoadBalancer, spec: LoadBalancerSpec): boolean {
  return (
    lb.scheme === spec.scheme &&
    sameListeners(lb.listeners, spec.listeners) &&
    sameSet(lb.availabilityZones, spec.availabilityZones) &&
    sameSet(lb.subnets, spec.subnets) &&
    sameSet(lb.securityGroups, spec.securityGroups)
  );
}

export function withInstancesRegistered(lb: LoadBalancer, instanceIds: readonly string[]): LoadBalancer {
  const instances = [...lb.instances];
  for (const id of instanceIds) if (!instances.includes(id)) instances.push(id);
  return instances.length === lb.instances.length ? lb : { ...lb, instances };
}

export function withInstancesDeregistered(lb: LoadBalancer, instanceIds: readonly string[]): LoadBalancer {
  const gone = new Set(instanceIds);
  const instances = lb.instances.filter((id) => !gone.has(id));
  return instances.length === lb.instances.length ? lb : { ...lb, instances };
}

export function withHealthCheck(lb: LoadBalancer, healthCheck: HealthCheck): LoadBalancer {
  return { ...lb, healthCheck };
}
