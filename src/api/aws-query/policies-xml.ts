/** Policies → the shapes of DescribeLoadBalancers, DescribeLoadBalancerPolicies and -PolicyTypes. */
import type { PolicyType } from "../../model/policy-types.js";
import type { LoadBalancer, LoadBalancerPolicy, PolicyAttribute } from "../../model/types.js";
import type { XmlValue } from "./xml.js";

const attribute = (p: LoadBalancerPolicy, name: string): string | undefined =>
  p.attributes.find((a) => a.name === name)?.value;

/** The `Policies` member: ELB lists the two stickiness kinds by their settings, the rest by name. */
export function policiesXml(policies: readonly LoadBalancerPolicy[]): XmlValue {
  const app = policies.filter((p) => p.policyTypeName === "AppCookieStickinessPolicyType");
  const lb = policies.filter((p) => p.policyTypeName === "LBCookieStickinessPolicyType");
  const other = policies.filter((p) => !app.includes(p) && !lb.includes(p));
  return {
    AppCookieStickinessPolicies: app.map((p) => ({
      PolicyName: p.policyName,
      CookieName: attribute(p, "CookieName"),
    })),
    LBCookieStickinessPolicies: lb.map((p) => {
      const period = attribute(p, "CookieExpirationPeriod");
      return {
        PolicyName: p.policyName,
        CookieExpirationPeriod: period === undefined ? undefined : Number(period),
      };
    }),
    OtherPolicies: other.map((p) => p.policyName),
  };
}

export function backendServerDescriptionsXml(lb: LoadBalancer): XmlValue {
  return (lb.backendServerPolicies ?? []).map((b) => ({
    InstancePort: b.instancePort,
    PolicyNames: [...b.policyNames],
  }));
}

export function policyDescriptionXml(p: {
  readonly policyName: string;
  readonly policyTypeName: string;
  readonly attributes: readonly PolicyAttribute[];
}): XmlValue {
  return {
    PolicyName: p.policyName,
    PolicyTypeName: p.policyTypeName,
    PolicyAttributeDescriptions: p.attributes.map((a) => ({
      AttributeName: a.name,
      AttributeValue: a.value,
    })),
  };
}

export function policyTypeDescriptionXml(t: PolicyType): XmlValue {
  return {
    PolicyTypeName: t.policyTypeName,
    Description: t.description,
    PolicyAttributeTypeDescriptions: t.attributeTypes.map((a) => ({
      AttributeName: a.attributeName,
      AttributeType: a.attributeType,
      Description: a.description,
      DefaultValue: a.defaultValue,
      Cardinality: a.cardinality,
    })),
  };
}
