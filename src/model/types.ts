/**
 * The desired state of Ballast, in the words of the Classic ELB API (2012-06-01). Every value here
 * is readonly data: a change makes a new value, and the store records it as a new revision.
 */
import type { AgentKey } from "./agent-keys.js";
import type { Placement } from "./placement.js";
import { regionalKey, regionOf } from "./region.js";

export type Protocol = "HTTP" | "HTTPS" | "TCP" | "SSL";
export const PROTOCOLS: readonly Protocol[] = ["HTTP", "HTTPS", "TCP", "SSL"];

export interface Listener {
  readonly protocol: Protocol;
  readonly loadBalancerPort: number;
  readonly instanceProtocol: Protocol;
  readonly instancePort: number;
  readonly sslCertificateId?: string;
  /** Policies of this listener (SetLoadBalancerPoliciesOfListener), by name. */
  readonly policyNames?: readonly string[];
}

/** A policy attribute, as ELB names and values it (`ProxyProtocol` = `true`). */
export interface PolicyAttribute {
  readonly name: string;
  readonly value: string;
}

export interface LoadBalancerPolicy {
  readonly policyName: string;
  readonly policyTypeName: string;
  readonly attributes: readonly PolicyAttribute[];
}

/** Policies applied to the connections to back ends on one instance port. */
export interface BackendServerPolicies {
  readonly instancePort: number;
  readonly policyNames: readonly string[];
}

export interface AccessLogAttribute {
  readonly enabled: boolean;
  readonly s3BucketName?: string;
  /** Minutes: 5 or 60. */
  readonly emitInterval: number;
  readonly s3BucketPrefix?: string;
}

/** ModifyLoadBalancerAttributes' settings; `loadBalancerAttributes()` fills in ELB's defaults. */
export interface LoadBalancerAttributes {
  readonly crossZoneLoadBalancing: { readonly enabled: boolean };
  readonly connectionDraining: { readonly enabled: boolean; readonly timeout: number };
  readonly connectionSettings: { readonly idleTimeout: number };
  readonly accessLog: AccessLogAttribute;
  readonly additionalAttributes: readonly { readonly key: string; readonly value: string }[];
}

export interface HealthCheck {
  /** `HTTP:80/path`, `HTTPS:443/path`, `TCP:80` or `SSL:443`. */
  readonly target: string;
  readonly interval: number;
  readonly timeout: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

export type Scheme = "internet-facing" | "internal";

export interface Tag {
  readonly key: string;
  readonly value?: string;
}

export interface LoadBalancer {
  readonly name: string;
  /** The region it lives in; absent on load balancers from before regions: DEFAULT_REGION. */
  readonly region?: string;
  /** Short stable id that makes the DNS name unique across re-creations of the same name. */
  readonly id: string;
  readonly dnsName: string;
  readonly createdTime: string;
  readonly scheme: Scheme;
  readonly listeners: readonly Listener[];
  readonly availabilityZones: readonly string[];
  readonly subnets: readonly string[];
  /**
   * The VPC of the subnets. Absent on load balancers stored before every one was in a VPC: those
   * are described as in the region's default VPC (model/default-vpc.ts).
   */
  readonly vpcId?: string;
  readonly securityGroups: readonly string[];
  readonly healthCheck: HealthCheck;
  /** Registered instance ids, in registration order. */
  readonly instances: readonly string[];
  readonly tags: readonly Tag[];
  /** Absent on load balancers that never had one: read them through the model's accessors. */
  readonly policies?: readonly LoadBalancerPolicy[];
  readonly backendServerPolicies?: readonly BackendServerPolicies[];
  readonly attributes?: LoadBalancerAttributes;
}

/** An inventory entry: where an instance id lives. */
export interface Instance {
  readonly instanceId: string;
  readonly address: string;
  readonly zone: string;
}

/** The three roles of credentials stored before policies; each reads as a managed policy (model/access.ts). */
export type LegacyRole = "admin" | "operator" | "reader";

/**
 * An access key of a principal. Secrets are stored so SigV4 can be verified; they never leave the
 * store by API (only once, when the key is created).
 */
export interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The name of the principal (IAM user) the key belongs to. */
  readonly principal: string;
  /**
   * Keys stored before policies carry a role; it is read as the managed policy of that role
   * attached to this key (`LEGACY_ROLE_POLICIES`), beside whatever the principal has attached.
   */
  readonly role?: LegacyRole;
  /** Absent: Active. An Inactive key is refused (InvalidClientTokenId), as IAM refuses one. */
  readonly status?: "Active" | "Inactive";
  readonly createdTime: string;
}

/** A principal (an IAM user): who calls, and the policies attached to it, by name. */
export interface Principal {
  readonly name: string;
  readonly createdTime: string;
  /** Names of managed or customer policies attached to it. */
  readonly policies: readonly string[];
}

/** A customer policy: an IAM-style JSON policy document (model/iam-policy.ts), stored as given. */
export interface AccessPolicy {
  readonly name: string;
  readonly document: string;
  readonly description?: string;
  readonly createdTime: string;
  readonly updatedTime: string;
}

/**
 * A server certificate for HTTPS/SSL listeners, addressed by ARN (IAM server-certificate or
 * ACM style). The private key stays in the store and reaches only the agents that serve it.
 */
export interface Certificate {
  readonly arn: string;
  readonly name: string;
  readonly certificateBody: string;
  readonly privateKey: string;
  readonly certificateChain?: string;
  readonly uploadedTime: string;
  readonly notAfter: string;
  readonly subject: string;
}

/** A subnet of the subnet registry: Ballast has no EC2, so each subnet id is declared with its zone. */
export interface Subnet {
  readonly subnetId: string;
  readonly zone: string;
  readonly vpcId: string;
  readonly cidrBlock?: string;
  /** The default subnet of its zone (EC2's DefaultForAz): where AvailabilityZones place a load balancer. */
  readonly defaultForAz?: boolean;
}

/** An account limit DescribeAccountLimits reports and the API enforces (`classic-load-balancers`, …). */
export interface Limit {
  readonly name: string;
  /** Limits are per region; absent on limits from before regions: DEFAULT_REGION. */
  readonly region?: string;
  readonly max: number;
}

/** The kinds of entity the journal keeps, and the document type of each. */
export interface EntityTypes {
  readonly loadBalancer: LoadBalancer;
  readonly instance: Instance;
  readonly credential: Credential;
  readonly certificate: Certificate;
  readonly subnet: Subnet;
  readonly limit: Limit;
  readonly principal: Principal;
  readonly accessPolicy: AccessPolicy;
  /** An agent's own key to the agent channel (`ballast agents add`); the secret only as a hash. */
  readonly agentKey: AgentKey;
  /** Which agents run each load balancer's nodes (controller/fleet.ts). */
  readonly placement: Placement;
}
export type EntityKind = keyof EntityTypes;
export const ENTITY_KINDS: readonly EntityKind[] = [
  "loadBalancer",
  "instance",
  "credential",
  "certificate",
  "subnet",
  "limit",
  "principal",
  "accessPolicy",
  "agentKey",
  "placement",
];

/**
 * Who may do what: keys, principals and policies. Restore and import leave them alone unless
 * asked (`includeCredentials`), so rolling the load balancers back never locks anyone out.
 */
export const ACCESS_KINDS: readonly EntityKind[] = ["credential", "principal", "accessPolicy", "agentKey"];

/**
 * What the controller decides, not operators: a restore leaves placement alone (moving nodes back
 * to agents chosen months ago would be a mass move of its own), and the controller places anew.
 */
export const CONTROLLER_KINDS: readonly EntityKind[] = ["placement"];

/** The key each kind is stored under: the name or id the document itself carries. */
export function entityKey<K extends EntityKind>(kind: K, doc: EntityTypes[K]): string {
  const d = doc as EntityTypes[EntityKind];
  switch (kind) {
    case "loadBalancer":
      return regionalKey(regionOf(d as LoadBalancer), (d as LoadBalancer).name);
    case "instance":
      return (d as Instance).instanceId;
    case "credential":
      return (d as Credential).accessKeyId;
    case "certificate":
      return (d as Certificate).arn;
    case "subnet":
      return (d as Subnet).subnetId;
    case "limit":
      return regionalKey(regionOf(d as Limit), (d as Limit).name);
    case "principal":
      return (d as Principal).name;
    case "accessPolicy":
      return (d as AccessPolicy).name;
    case "agentKey":
      return (d as AgentKey).name;
    case "placement":
      return (d as Placement).loadBalancer;
  }
  throw new Error(`unknown entity kind ${String(kind)}`);
}
