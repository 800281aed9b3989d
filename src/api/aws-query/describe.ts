/** LoadBalancer → the LoadBalancerDescription shape of DescribeLoadBalancers. */

import { regionOf } from "../../model/region.js";
import type { HealthCheck, Listener, LoadBalancer } from "../../model/types.js";
import { backendServerDescriptionsXml, policiesXml } from "./policies-xml.js";
import { type RegionVpc, sourceSecurityGroup } from "./region-vpc.js";
import { RawXml, toXml, type XmlValue } from "./xml.js";

export function listenerXml(l: Listener): XmlValue {
  return {
    Protocol: l.protocol,
    LoadBalancerPort: l.loadBalancerPort,
    InstanceProtocol: l.instanceProtocol,
    InstancePort: l.instancePort,
    SSLCertificateId: l.sslCertificateId,
  };
}

export function healthCheckXml(h: HealthCheck): XmlValue {
  return {
    Target: h.target,
    Interval: h.interval,
    Timeout: h.timeout,
    UnhealthyThreshold: h.unhealthyThreshold,
    HealthyThreshold: h.healthyThreshold,
  };
}

export function instancesXml(ids: readonly string[]): XmlValue {
  return ids.map((id) => ({ InstanceId: id }));
}

/** A fixed hosted zone id per region: Ballast serves the records itself, so there is no Route 53 zone. */
export function canonicalHostedZoneNameId(region: string): string {
  return `ZBALLAST${region.toUpperCase().replace(/[^A-Z0-9]/g, "")}`;
}

/** `lb` as in its VPC (RegionVpc.view): every load balancer is described with its VPC. */
export function loadBalancerDescription(lb: LoadBalancer): XmlValue {
  return {
    LoadBalancerName: lb.name,
    DNSName: lb.dnsName,
    // As in AWS, only an internet-facing load balancer has a canonical hosted zone name.
    CanonicalHostedZoneName: lb.scheme === "internet-facing" ? lb.dnsName : undefined,
    CanonicalHostedZoneNameID: canonicalHostedZoneNameId(regionOf(lb)),
    ListenerDescriptions: lb.listeners.map((l) => ({
      Listener: listenerXml(l),
      PolicyNames: [...(l.policyNames ?? [])],
    })),
    Policies: policiesXml(lb.policies ?? []),
    BackendServerDescriptions: backendServerDescriptionsXml(lb),
    AvailabilityZones: [...lb.availabilityZones],
    Subnets: [...lb.subnets],
    VPCId: lb.vpcId,
    Instances: instancesXml(lb.instances),
    HealthCheck: healthCheckXml(lb.healthCheck),
    SourceSecurityGroup: sourceSecurityGroup(lb),
    SecurityGroups: [...lb.securityGroups],
    CreatedTime: lb.createdTime,
    Scheme: lb.scheme,
  };
}

/**
 * Rendered descriptions by the stored document they describe. A store that keeps its state in
 * memory (a replica, SQLite's listing) hands out the same frozen object until the load balancer
 * changes, so an unchanged load balancer is not rendered again on every call; a changed one is a
 * new object (and the old entry goes with the old object). A document that is not frozen is a
 * fresh parse or may still change: rendered, never kept. The bytes depend on nothing else but the VPC
 * view, whose fingerprint is kept beside them; not on the caller (authorization refuses or
 * allows a whole load balancer), and the region is the document's own.
 */
const RENDERED = new WeakMap<LoadBalancer, { readonly vpc: string; readonly xml: RawXml }>();

/** `loadBalancerDescription(vpc.view(lb))`, rendered, from the cache when it can be. */
export function renderedDescription(lb: LoadBalancer, vpc: RegionVpc): RawXml {
  // A load balancer with its own VPC is described as it is; only one without depends on the region's.
  if (!Object.isFrozen(lb)) return new RawXml(toXml(loadBalancerDescription(vpc.view(lb))));
  const fingerprint = lb.vpcId === undefined ? vpc.fingerprint : "";
  const hit = RENDERED.get(lb);
  if (hit !== undefined && hit.vpc === fingerprint) return hit.xml;
  const xml = new RawXml(toXml(loadBalancerDescription(vpc.view(lb))));
  RENDERED.set(lb, { vpc: fingerprint, xml });
  return xml;
}
