/** LoadBalancer → the LoadBalancerDescription shape of DescribeLoadBalancers. */

import { regionOf } from "../../model/region.js";
import type { HealthCheck, Listener, LoadBalancer } from "../../model/types.js";
import { backendServerDescriptionsXml, policiesXml } from "./policies-xml.js";
import { sourceSecurityGroup } from "./region-vpc.js";
import type { XmlValue } from "./xml.js";

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
