/**
 * A load balancer's policies: validation for CreateLoadBalancerPolicy (and the two stickiness
 * shortcuts), and the listener / back-end compatibility rules of SetLoadBalancerPoliciesOfListener
 * and SetLoadBalancerPoliciesForBackendServer. Pure; every rule throws the BallastError ELB answers.
 */
import { BallastError } from "./errors.js";
import {
  attributeTypeOf,
  findPolicyType,
  type PolicyAttributeType,
  type PolicyType,
  type PolicyTypeName,
} from "./policy-types.js";
import { predefinedPolicy, REFERENCE_SECURITY_POLICY, tlsOptionsFor } from "./ssl-policies.js";
import type { LoadBalancerPolicy, PolicyAttribute, Protocol } from "./types.js";

export interface PolicyInput {
  readonly policyName: string;
  readonly policyTypeName: string;
  readonly attributes: readonly PolicyAttribute[];
}

const invalid = (message: string): BallastError => new BallastError("InvalidConfigurationRequest", message);

/** Validates a new policy against the load balancer's existing ones and returns it normalised. */
export function validatePolicy(p: PolicyInput, existing: readonly LoadBalancerPolicy[]): LoadBalancerPolicy {
  if (existing.some((e) => e.policyName === p.policyName))
    throw new BallastError("DuplicatePolicyName", `Policy with the name '${p.policyName}' already exists`);
  const type = findPolicyType(p.policyTypeName);
  if (type === undefined)
    throw new BallastError("PolicyTypeNotFound", `There is no policy type named '${p.policyTypeName}'`);
  const attributes = expandReference(type, p.attributes).map((a) => checkAttribute(type, a));
  checkCardinality(type, attributes);
  checkTypeRules(type.policyTypeName, attributes, existing);
  return { policyName: p.policyName, policyTypeName: type.policyTypeName, attributes };
}

/**
 * Reference-Security-Policy stands for the named predefined policy's attributes; ELB stores the
 * reference followed by those attributes. Mixing it with explicit attributes is refused (Ballast
 * decision: which would win is not documented).
 */
function expandReference(
  type: PolicyType,
  attributes: readonly PolicyAttribute[],
): readonly PolicyAttribute[] {
  if (type.policyTypeName !== "SSLNegotiationPolicyType") return attributes;
  const ref = attributes.find((a) => a.name === REFERENCE_SECURITY_POLICY);
  if (ref === undefined) return attributes;
  if (attributes.length > 1)
    throw invalid(`${REFERENCE_SECURITY_POLICY} cannot be combined with other attributes in one policy`);
  const predefined = predefinedPolicy(ref.value);
  if (predefined === undefined) throw invalid(`The referenced security policy '${ref.value}' does not exist`);
  return [ref, ...predefined.attributes];
}

function checkAttribute(type: PolicyType, a: PolicyAttribute): PolicyAttribute {
  const spec = attributeTypeOf(type, a.name);
  if (spec === undefined)
    throw invalid(`Attribute '${a.name}' is not a valid attribute for policy type '${type.policyTypeName}'`);
  return { name: a.name, value: checkValue(spec, a.value) };
}

function checkValue(spec: PolicyAttributeType, value: string): string {
  switch (spec.attributeType) {
    case "Boolean": {
      const v = value.toLowerCase();
      if (v !== "true" && v !== "false")
        throw invalid(`Attribute '${spec.attributeName}' must be 'true' or 'false', not '${value}'`);
      return v;
    }
    case "Long":
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
        throw invalid(`Attribute '${spec.attributeName}' must be an integer, not '${value}'`);
      return String(Number(value));
    case "String":
    case "PolicyName":
      return value;
  }
}

function checkCardinality(type: PolicyType, attributes: readonly PolicyAttribute[]): void {
  for (const spec of type.attributeTypes) {
    const n = attributes.filter((a) => a.name === spec.attributeName).length;
    const required = spec.cardinality === "ONE" || spec.cardinality === "ONE_OR_MORE";
    const single = spec.cardinality === "ONE" || spec.cardinality === "ZERO_OR_ONE";
    if (required && n === 0)
      throw invalid(`Attribute '${spec.attributeName}' is required (cardinality ${spec.cardinality})`);
    if (single && n > 1)
      throw invalid(
        `Attribute '${spec.attributeName}' may be given only once (cardinality ${spec.cardinality})`,
      );
  }
}

function checkTypeRules(
  type: PolicyTypeName,
  attributes: readonly PolicyAttribute[],
  existing: readonly LoadBalancerPolicy[],
): void {
  const value = (name: string): string | undefined => attributes.find((a) => a.name === name)?.value;
  switch (type) {
    case "LBCookieStickinessPolicyType": {
      // Absent or 0: the cookie lives for the browser session.
      const period = value("CookieExpirationPeriod");
      if (period !== undefined && Number(period) < 0)
        throw invalid(`CookieExpirationPeriod must be 0 or greater, not ${period}`);
      return;
    }
    case "AppCookieStickinessPolicyType":
      if ((value("CookieName") ?? "").trim() === "") throw invalid("CookieName must not be empty");
      return;
    case "PublicKeyPolicyType":
      if ((value("PublicKey") ?? "").trim() === "") throw invalid("PublicKey must not be empty");
      return;
    case "BackendServerAuthenticationPolicyType":
      for (const a of attributes) {
        const target = existing.find((e) => e.policyName === a.value);
        if (target === undefined || target.policyTypeName !== "PublicKeyPolicyType")
          throw invalid(`PublicKeyPolicyName '${a.value}' does not name a PublicKeyPolicyType policy`);
      }
      return;
    case "SSLNegotiationPolicyType":
      // Refuse at the edge what the data plane could not serve (no usable protocol or cipher).
      tlsOptionsFor(attributes);
      return;
    case "ProxyProtocolPolicyType":
      return;
  }
}

/** The argument of CreateLBCookieStickinessPolicy as a CreateLoadBalancerPolicy input. */
export function lbCookieStickinessPolicy(policyName: string, cookieExpirationPeriod?: number): PolicyInput {
  return {
    policyName,
    policyTypeName: "LBCookieStickinessPolicyType",
    attributes:
      cookieExpirationPeriod === undefined
        ? []
        : [{ name: "CookieExpirationPeriod", value: String(cookieExpirationPeriod) }],
  };
}

/** The argument of CreateAppCookieStickinessPolicy as a CreateLoadBalancerPolicy input. */
export function appCookieStickinessPolicy(policyName: string, cookieName: string): PolicyInput {
  return {
    policyName,
    policyTypeName: "AppCookieStickinessPolicyType",
    attributes: [{ name: "CookieName", value: cookieName }],
  };
}

export type PolicyKind =
  | "stickiness"
  | "ssl-negotiation"
  | "proxy-protocol"
  | "backend-authentication"
  | "public-key";

const KIND_BY_TYPE: Readonly<Record<PolicyTypeName, PolicyKind>> = {
  LBCookieStickinessPolicyType: "stickiness",
  AppCookieStickinessPolicyType: "stickiness",
  SSLNegotiationPolicyType: "ssl-negotiation",
  ProxyProtocolPolicyType: "proxy-protocol",
  BackendServerAuthenticationPolicyType: "backend-authentication",
  PublicKeyPolicyType: "public-key",
};

function kindOf(p: LoadBalancerPolicy): PolicyKind {
  const type = findPolicyType(p.policyTypeName);
  if (type === undefined)
    throw new BallastError("PolicyTypeNotFound", `Policy type ${p.policyTypeName} not found`);
  return KIND_BY_TYPE[type.policyTypeName];
}

/** What a named policy of the load balancer does; PolicyNotFound when it has none by that name. */
export function policyKindFor(policyName: string, policies: readonly LoadBalancerPolicy[]): PolicyKind {
  return kindOf(findPolicy(policyName, policies));
}

export function findPolicy(policyName: string, policies: readonly LoadBalancerPolicy[]): LoadBalancerPolicy {
  const policy = policies.find((p) => p.policyName === policyName);
  if (policy === undefined)
    throw new BallastError(
      "PolicyNotFound",
      `There is no policy with name '${policyName}' for load balancer`,
    );
  return policy;
}

/** Which kinds of policy each listener protocol accepts. */
export function listenerPolicyKinds(protocol: Protocol): readonly PolicyKind[] {
  switch (protocol) {
    case "HTTP":
      return ["stickiness"];
    case "HTTPS":
      return ["stickiness", "ssl-negotiation"];
    case "SSL":
      return ["ssl-negotiation"];
    case "TCP":
      return [];
  }
}

export const BACKEND_POLICY_KINDS: readonly PolicyKind[] = ["proxy-protocol", "backend-authentication"];

/** SetLoadBalancerPoliciesOfListener: the policies for a listener of this protocol, in order given. */
export function validateListenerPolicies(
  protocol: Protocol,
  policyNames: readonly string[],
  policies: readonly LoadBalancerPolicy[],
): readonly LoadBalancerPolicy[] {
  return validateSet(policyNames, policies, listenerPolicyKinds(protocol), `a ${protocol} listener`);
}

/** SetLoadBalancerPoliciesForBackendServer: only ProxyProtocol and BackendServerAuthentication. */
export function validateBackendServerPolicies(
  policyNames: readonly string[],
  policies: readonly LoadBalancerPolicy[],
): readonly LoadBalancerPolicy[] {
  return validateSet(policyNames, policies, BACKEND_POLICY_KINDS, "a back-end server");
}

function validateSet(
  policyNames: readonly string[],
  policies: readonly LoadBalancerPolicy[],
  allowed: readonly PolicyKind[],
  target: string,
): readonly LoadBalancerPolicy[] {
  const chosen = policyNames.map((n) => findPolicy(n, policies));
  const seen = new Set<PolicyKind>();
  for (const p of chosen) {
    const kind = kindOf(p);
    if (!allowed.includes(kind))
      throw invalid(`${p.policyTypeName} policy '${p.policyName}' cannot be set on ${target}`);
    // At most one of each kind: both stickiness types count as one (a listener has one cookie rule).
    if (seen.has(kind)) throw invalid(`Only one ${kind} policy can be set on ${target}`);
    seen.add(kind);
  }
  return chosen;
}

/** Policies whose attributes name `policyName` (a PublicKeyPolicy inside a BackendServerAuthentication). */
export function policiesReferencing(
  policyName: string,
  policies: readonly LoadBalancerPolicy[],
): readonly string[] {
  return policies
    .filter(
      (p) =>
        p.policyTypeName === "BackendServerAuthenticationPolicyType" &&
        p.attributes.some((a) => a.value === policyName),
    )
    .map((p) => p.policyName);
}
