/**
 * The Classic ELB policy-type catalog, as DescribeLoadBalancerPolicyTypes returns it. Type names,
 * type descriptions, attribute names, types and cardinalities follow the AWS CLI reference example
 * of `aws elb describe-load-balancer-policy-types`; the SSLNegotiationPolicyType attributes are the
 * protocols, the two options and one Boolean per cipher ELB documents (see ssl-policies.ts).
 */
import {
  ELB_CIPHER_NAMES,
  PROTOCOL_ATTRIBUTES,
  REFERENCE_SECURITY_POLICY,
  SERVER_DEFINED_CIPHER_ORDER,
} from "./ssl-policies.js";

export type Cardinality = "ONE" | "ZERO_OR_ONE" | "ZERO_OR_MORE" | "ONE_OR_MORE";
export type AttributeType = "Boolean" | "Long" | "String" | "PolicyName";

export type PolicyTypeName =
  | "ProxyProtocolPolicyType"
  | "PublicKeyPolicyType"
  | "AppCookieStickinessPolicyType"
  | "LBCookieStickinessPolicyType"
  | "SSLNegotiationPolicyType"
  | "BackendServerAuthenticationPolicyType";

export interface PolicyAttributeType {
  readonly attributeName: string;
  readonly attributeType: AttributeType;
  readonly cardinality: Cardinality;
  readonly description?: string;
  readonly defaultValue?: string;
}

export interface PolicyType {
  readonly policyTypeName: PolicyTypeName;
  readonly description: string;
  readonly attributeTypes: readonly PolicyAttributeType[];
}

const optionalFlag = (attributeName: string, description?: string): PolicyAttributeType => ({
  attributeName,
  attributeType: "Boolean",
  cardinality: "ZERO_OR_ONE",
  defaultValue: "false",
  ...(description === undefined ? {} : { description }),
});

const SSL_NEGOTIATION_ATTRIBUTES: readonly PolicyAttributeType[] = [
  ...PROTOCOL_ATTRIBUTES.map(([name]) => optionalFlag(name)),
  optionalFlag(
    SERVER_DEFINED_CIPHER_ORDER,
    "The value true means the load balancer picks the first cipher of its own list that the client offers.",
  ),
  {
    attributeName: REFERENCE_SECURITY_POLICY,
    attributeType: "String",
    cardinality: "ZERO_OR_ONE",
    description:
      "The name of a predefined security policy, for example ELBSecurityPolicy-2016-08. If specified, the " +
      "load balancer uses the protocols and ciphers of that policy.",
  },
  ...ELB_CIPHER_NAMES.map((name) => optionalFlag(name)),
];

/** In the order the AWS CLI reference example lists them. */
export const POLICY_TYPES: readonly PolicyType[] = [
  {
    policyTypeName: "ProxyProtocolPolicyType",
    description:
      "Policy that controls whether to include the IP address and port of the originating request for TCP " +
      "messages. This policy operates on TCP/SSL listeners only",
    attributeTypes: [{ attributeName: "ProxyProtocol", attributeType: "Boolean", cardinality: "ONE" }],
  },
  {
    policyTypeName: "PublicKeyPolicyType",
    description:
      "Policy containing a list of public keys to accept when authenticating the back-end server(s). This " +
      "policy cannot be applied directly to back-end servers or listeners but must be part of a " +
      "BackendServerAuthenticationPolicyType.",
    attributeTypes: [{ attributeName: "PublicKey", attributeType: "String", cardinality: "ONE" }],
  },
  {
    policyTypeName: "AppCookieStickinessPolicyType",
    description:
      "Stickiness policy with session lifetimes controlled by the lifetime of the application-generated " +
      "cookie. This policy can be associated only with HTTP/HTTPS listeners.",
    attributeTypes: [{ attributeName: "CookieName", attributeType: "String", cardinality: "ONE" }],
  },
  {
    policyTypeName: "LBCookieStickinessPolicyType",
    description:
      "Stickiness policy with session lifetimes controlled by the browser (user-agent) or a specified " +
      "expiration period. This policy can be associated only with HTTP/HTTPS listeners.",
    attributeTypes: [
      { attributeName: "CookieExpirationPeriod", attributeType: "Long", cardinality: "ZERO_OR_ONE" },
    ],
  },
  {
    policyTypeName: "SSLNegotiationPolicyType",
    description:
      "Listener policy that defines the ciphers and protocols that will be accepted by the load balancer. " +
      "This policy can be associated only with HTTPS/SSL listeners.",
    attributeTypes: SSL_NEGOTIATION_ATTRIBUTES,
  },
  {
    policyTypeName: "BackendServerAuthenticationPolicyType",
    description:
      "Policy that controls authentication to back-end server(s) and contains one or more policies, such as " +
      "an instance of a PublicKeyPolicyType. This policy can be associated only with back-end servers that " +
      "are using HTTPS/SSL.",
    attributeTypes: [
      { attributeName: "PublicKeyPolicyName", attributeType: "PolicyName", cardinality: "ONE_OR_MORE" },
    ],
  },
];

export function findPolicyType(name: string): PolicyType | undefined {
  return POLICY_TYPES.find((t) => t.policyTypeName === name);
}

export function attributeTypeOf(type: PolicyType, attributeName: string): PolicyAttributeType | undefined {
  return type.attributeTypes.find((a) => a.attributeName === attributeName);
}
