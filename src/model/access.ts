/**
 * Who may do what, in IAM's terms: principals (IAM users) hold access keys and have policies
 * attached; every ELB action and every admin route is one IAM action on one resource ARN, named
 * in one table here (`ELB_ACTION_RESOURCES`, `ADMIN_ROUTES`); the managed policies are the ones
 * people know from AWS, and Ballast's own for its maintenance and administration. Pure.
 *
 * Keys stored before policies carry a `role`; each role reads as a managed policy attached to that
 * key (`LEGACY_ROLE_POLICIES`): nothing is migrated, nothing is lost.
 */
import { BALLAST_ACCOUNT_ID } from "./certificates.js";
import { BallastError } from "./errors.js";
import {
  type AccessRequest,
  type Decision,
  evaluate,
  type PolicyDocument,
  parsePolicy,
} from "./iam-policy.js";
import { loadBalancerArn } from "./region.js";
import type { Credential, LegacyRole, Principal } from "./types.js";

export const ELB_SERVICE = "elasticloadbalancing";
export const BALLAST_SERVICE = "ballast";

/** The principal name of a caller that did not authenticate, in the audit log. */
export const ANONYMOUS = "anonymous";

/** IAM's user names: 1–64 of letters, digits and `+=,.@_-`. */
const PRINCIPAL_NAME = /^[\w+=,.@-]{1,64}$/;
/** IAM's policy names: 1–128 of letters, digits and `+=,.@_-`. */
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

export function validatePrincipalName(name: unknown): string {
  if (typeof name !== "string" || !PRINCIPAL_NAME.test(name))
    throw new BallastError(
      "ValidationError",
      `A principal name is 1 to 64 letters, digits and +=,.@_- (got ${JSON.stringify(name)})`,
    );
  return name;
}

export function validatePolicyName(name: unknown): string {
  if (typeof name !== "string" || !POLICY_NAME.test(name))
    throw new BallastError(
      "ValidationError",
      `A policy name is 1 to 128 letters, digits and +=,.@_- (got ${JSON.stringify(name)})`,
    );
  return name;
}

export function userArn(name: string): string {
  return `arn:aws:iam::${BALLAST_ACCOUNT_ID}:user/${name}`;
}

/** Managed policies are AWS's (`arn:aws:iam::aws:policy/…`); customer ones the account's. */
export function policyArn(name: string): string {
  return isManagedPolicy(name)
    ? `arn:aws:iam::aws:policy/${name}`
    : `arn:aws:iam::${BALLAST_ACCOUNT_ID}:policy/${name}`;
}

export function loadBalancerResourceArn(region: string, name: string): string {
  return loadBalancerArn(region, name);
}

function ballastArn(region: string, resource: string): string {
  return `arn:aws:${BALLAST_SERVICE}:${region}:${BALLAST_ACCOUNT_ID}:${resource}`;
}

// ---------------------------------------------------------------------------------------------
// Managed policies

export interface ManagedPolicy {
  readonly name: string;
  readonly description: string;
  readonly document: PolicyDocument;
}

/** The admin routes' read actions: what every managed policy that reads may do. */
const BALLAST_READ = ["ballast:Get*", "ballast:List*", "ballast:ReadState", "ballast:VerifyJournal"];
/** The inventory, certificates, subnets and limits: what the operator role could change. */
const BALLAST_OPERATE = [
  "ballast:PutInstance",
  "ballast:DeleteInstance",
  "ballast:PutCertificate",
  "ballast:DeleteCertificate",
  "ballast:PutSubnet",
  "ballast:DeleteSubnet",
  "ballast:PutLimit",
  "ballast:DeleteLimit",
  "ballast:ReadAudit",
];

function allow(actions: readonly string[]): PolicyDocument {
  return { version: "2012-10-17", statements: [{ effect: "Allow", actions, resources: ["*"] }] };
}

export const MANAGED_POLICIES: ReadonlyMap<string, ManagedPolicy> = new Map(
  (
    [
      {
        name: "ElasticLoadBalancingReadOnly",
        description: "Describe* of the ELB API",
        document: allow(["elasticloadbalancing:Describe*"]),
      },
      {
        name: "ElasticLoadBalancingFullAccess",
        description: "Every action of the ELB API",
        document: allow(["elasticloadbalancing:*"]),
      },
      {
        name: "BallastAdministrator",
        description: "Everything: the ELB API and every admin route (the role admin of old keys)",
        document: allow(["elasticloadbalancing:*", "ballast:*"]),
      },
      {
        name: "BallastOperator",
        description:
          "The ELB API, the admin API's reads, and the inventory, certificates, subnets, limits and audit log (the role operator of old keys)",
        document: allow(["elasticloadbalancing:*", ...BALLAST_READ, ...BALLAST_OPERATE]),
      },
      {
        name: "BallastApprover",
        description:
          "Approve, reject, list and read change tickets, and the admin API's reads (the second person of the two-person rule)",
        document: allow([
          "elasticloadbalancing:Describe*",
          ...BALLAST_READ,
          "ballast:ApproveTicket",
          "ballast:RejectTicket",
          "ballast:CloseTicket",
          "ballast:ReadAudit",
        ]),
      },
      {
        name: "BallastReadOnly",
        description: "Describe* of the ELB API and the admin API's reads (the role reader of old keys)",
        document: allow(["elasticloadbalancing:Describe*", ...BALLAST_READ]),
      },
    ] as const
  ).map((p) => [p.name, p]),
);

export function isManagedPolicy(name: string): boolean {
  return MANAGED_POLICIES.has(name);
}

export const LEGACY_ROLE_POLICIES: Readonly<Record<LegacyRole, string>> = {
  admin: "BallastAdministrator",
  operator: "BallastOperator",
  reader: "BallastReadOnly",
};

/** The administrator policy the bootstrap principal gets. */
export const ADMINISTRATOR_POLICY = "BallastAdministrator";

/**
 * The names of the policies that govern a call made with `credential`: those attached to its
 * principal, and the managed policy of the key's legacy role if it has one.
 */
export function effectivePolicyNames(principal: Principal | undefined, credential: Credential): string[] {
  const names = [...(principal?.policies ?? [])];
  if (credential.role !== undefined) {
    const legacy = LEGACY_ROLE_POLICIES[credential.role];
    if (!names.includes(legacy)) names.push(legacy);
  }
  return names;
}

/** Evaluates every request; the first one not allowed is returned with its decision. */
export function firstDenied(
  policies: readonly PolicyDocument[],
  requests: readonly AccessRequest[],
): { request: AccessRequest; decision: Decision } | undefined {
  for (const request of requests) {
    const decision = evaluate(policies, request);
    if (decision !== "allow") return { request, decision };
  }
  return undefined;
}

/** AWS's AccessDenied, word for word. */
export function accessDenied(principalName: string, request: AccessRequest): BallastError {
  const on = request.resource === "*" ? "" : ` on resource: ${request.resource}`;
  return new BallastError(
    "AccessDenied",
    `User: ${userArn(principalName)} is not authorized to perform: ${request.action}${on}`,
  );
}

/** Parses a stored customer policy; a corrupt one (never accepted by the API) counts as no policy. */
export function parseStoredPolicy(text: string): PolicyDocument | undefined {
  try {
    return parsePolicy(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// ELB actions → IAM action and resource

/**
 * How each ELB action names its resource: `one` = the `LoadBalancerName` parameter, `many` =
 * `LoadBalancerNames.member.N`, `none` = no resource-level permission (IAM's `*`: the Describe*).
 * A test holds that this names every action the API serves.
 */
export const ELB_ACTION_RESOURCES: Readonly<Record<string, "one" | "many" | "none">> = {
  CreateLoadBalancer: "one",
  DeleteLoadBalancer: "one",
  DescribeLoadBalancers: "none",
  DescribeAccountLimits: "none",
  RegisterInstancesWithLoadBalancer: "one",
  DeregisterInstancesFromLoadBalancer: "one",
  DescribeInstanceHealth: "none",
  DescribeLoadBalancerAttributes: "none",
  ModifyLoadBalancerAttributes: "one",
  EnableAvailabilityZonesForLoadBalancer: "one",
  DisableAvailabilityZonesForLoadBalancer: "one",
  AttachLoadBalancerToSubnets: "one",
  DetachLoadBalancerFromSubnets: "one",
  ApplySecurityGroupsToLoadBalancer: "one",
  ConfigureHealthCheck: "one",
  AddTags: "many",
  RemoveTags: "many",
  DescribeTags: "none",
  CreateLoadBalancerPolicy: "one",
  CreateAppCookieStickinessPolicy: "one",
  CreateLBCookieStickinessPolicy: "one",
  DeleteLoadBalancerPolicy: "one",
  DescribeLoadBalancerPolicies: "none",
  DescribeLoadBalancerPolicyTypes: "none",
  SetLoadBalancerPoliciesOfListener: "one",
  SetLoadBalancerPoliciesForBackendServer: "one",
  CreateLoadBalancerListeners: "one",
  DeleteLoadBalancerListeners: "one",
  SetLoadBalancerListenerSSLCertificate: "one",
};

/**
 * The IAM requests an ELB call makes: one per load balancer it names (`*` when it names none, or
 * for the Describe* actions). `param` reads a request parameter.
 */
export function elbRequests(
  action: string,
  region: string,
  param: (name: string) => string | undefined,
): AccessRequest[] {
  const iamAction = `${ELB_SERVICE}:${action}`;
  const kind = ELB_ACTION_RESOURCES[action] ?? "none";
  const names: string[] = [];
  if (kind === "one") {
    const name = param("LoadBalancerName");
    if (name !== undefined) names.push(name);
  } else if (kind === "many") {
    for (let i = 1; i <= 100; i++) {
      const name = param(`LoadBalancerNames.member.${i}`);
      if (name === undefined) break;
      names.push(name);
    }
  }
  if (names.length === 0) return [{ action: iamAction, resource: "*" }];
  return [...new Set(names)].map((n) => ({
    action: iamAction,
    resource: loadBalancerResourceArn(region, n),
  }));
}

// ---------------------------------------------------------------------------------------------
// Admin routes → IAM action and resource

/** One admin route: method, path template below /admin/v1 (`{x}` is one segment), action, resource. */
export interface AdminRoute {
  readonly method: string;
  readonly path: string;
  readonly action: string;
  /** The resource, with `{x}` from the path, `{region}` and `{account}` filled in. */
  readonly resource: string;
}

const A = BALLAST_ACCOUNT_ID;
const USER = `arn:aws:iam::${A}:user/{name}`;
const STATE = `arn:aws:ballast::${A}:state`;

function route(method: string, path: string, action: string, resource: string): AdminRoute {
  return { method, path, action: `${BALLAST_SERVICE}:${action}`, resource };
}

/** Every admin route; a test holds that each route the admin API serves is here. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  route("GET", "/instances", "GetInstances", `arn:aws:ballast::${A}:instance/*`),
  route("GET", "/instances/{id}", "GetInstances", `arn:aws:ballast::${A}:instance/{id}`),
  route("PUT", "/instances/{id}", "PutInstance", `arn:aws:ballast::${A}:instance/{id}`),
  route("DELETE", "/instances/{id}", "DeleteInstance", `arn:aws:ballast::${A}:instance/{id}`),
  route("GET", "/certificates", "GetCertificates", `arn:aws:iam::${A}:server-certificate/*`),
  route("GET", "/certificates/{name}", "GetCertificates", `arn:aws:iam::${A}:server-certificate/{name}`),
  route("PUT", "/certificates/{name}", "PutCertificate", `arn:aws:iam::${A}:server-certificate/{name}`),
  route("DELETE", "/certificates/{name}", "DeleteCertificate", `arn:aws:iam::${A}:server-certificate/{name}`),
  route("GET", "/subnets", "GetSubnets", `arn:aws:ec2::${A}:subnet/*`),
  route("GET", "/subnets/{id}", "GetSubnets", `arn:aws:ec2::${A}:subnet/{id}`),
  route("PUT", "/subnets/{id}", "PutSubnet", `arn:aws:ec2::${A}:subnet/{id}`),
  route("DELETE", "/subnets/{id}", "DeleteSubnet", `arn:aws:ec2::${A}:subnet/{id}`),
  route("GET", "/limits", "GetLimits", ballastArn("{region}", "limit/*")),
  route("PUT", "/limits/{name}", "PutLimit", ballastArn("{region}", "limit/{name}")),
  route("DELETE", "/limits/{name}", "DeleteLimit", ballastArn("{region}", "limit/{name}")),
  route("GET", "/state/history", "ReadState", STATE),
  route("GET", "/state/show", "ReadState", STATE),
  route("GET", "/state/diff", "ReadState", STATE),
  route("GET", "/state/verify", "VerifyJournal", STATE),
  route("POST", "/state/restore", "RestoreState", STATE),
  route("GET", "/state/export", "ExportState", STATE),
  route("POST", "/state/import", "ImportState", STATE),
  route("GET", "/state/backups", "ListBackups", STATE),
  route("POST", "/state/backups", "CreateBackup", STATE),
  route("POST", "/state/compact", "CompactJournal", STATE),
  route("GET", "/state/compactions", "ListCompactions", STATE),
  route("POST", "/state/repair", "RepairState", STATE),
  route("GET", "/alarms", "GetAlarms", `arn:aws:ballast::${A}:guard-hold/*`),
  route("GET", "/guard/holds", "ListGuardHolds", `arn:aws:ballast::${A}:guard-hold/*`),
  route("GET", "/load-balancers", "ListLoadBalancers", loadBalancerArn("{region}", "*")),
  route("GET", "/load-balancers/{name}", "GetLoadBalancer", loadBalancerArn("{region}", "{name}")),
  route("GET", "/load-balancers/{name}/stats", "GetLoadBalancer", loadBalancerArn("{region}", "{name}")),
  route("GET", "/agents", "ListAgents", `arn:aws:ballast::${A}:agent/*`),
  route("GET", "/agent-keys", "ListAgentKeys", `arn:aws:ballast::${A}:agent/*`),
  route("POST", "/agent-keys/{name}", "CreateAgentKey", `arn:aws:ballast::${A}:agent/{name}`),
  route("POST", "/agent-keys/{name}/revoke", "RevokeAgentKey", `arn:aws:ballast::${A}:agent/{name}`),
  route("GET", "/control-planes", "ListControlPlanes", `arn:aws:ballast::${A}:control-plane/*`),
  route("POST", "/guard/holds/{zone}/release", "ReleaseGuardHold", `arn:aws:ballast::${A}:guard-hold/{zone}`),
  route("POST", "/guard/holds/{zone}/discard", "DiscardGuardHold", `arn:aws:ballast::${A}:guard-hold/{zone}`),
  route("GET", "/principals", "ListPrincipals", `arn:aws:iam::${A}:user/*`),
  route("GET", "/principals/{name}", "GetPrincipal", USER),
  route("PUT", "/principals/{name}", "ManagePrincipals", USER),
  route("DELETE", "/principals/{name}", "ManagePrincipals", USER),
  route("POST", "/principals/{name}/keys", "ManageCredentials", USER),
  route("PUT", "/principals/{name}/policies/{policy}", "ManagePolicies", USER),
  route("DELETE", "/principals/{name}/policies/{policy}", "ManagePolicies", USER),
  route("GET", "/keys", "ListAccessKeys", `arn:aws:iam::${A}:access-key/*`),
  route("POST", "/keys/{id}/rotate", "ManageCredentials", `arn:aws:iam::${A}:access-key/{id}`),
  route("POST", "/keys/{id}/deactivate", "ManageCredentials", `arn:aws:iam::${A}:access-key/{id}`),
  route("POST", "/keys/{id}/activate", "ManageCredentials", `arn:aws:iam::${A}:access-key/{id}`),
  route("DELETE", "/keys/{id}", "ManageCredentials", `arn:aws:iam::${A}:access-key/{id}`),
  route("GET", "/policies", "ListPolicies", `arn:aws:iam::${A}:policy/*`),
  route("GET", "/policies/{policy}", "GetPolicy", `arn:aws:iam::${A}:policy/{policy}`),
  route("PUT", "/policies/{policy}", "ManagePolicies", `arn:aws:iam::${A}:policy/{policy}`),
  route("DELETE", "/policies/{policy}", "ManagePolicies", `arn:aws:iam::${A}:policy/{policy}`),
  route("GET", "/audit", "ReadAudit", `arn:aws:ballast::${A}:audit`),
  route("POST", "/tickets", "OpenTicket", ballastArn("{region}", "ticket/*")),
  route("GET", "/tickets", "ListTickets", ballastArn("{region}", "ticket/*")),
  route("GET", "/tickets/{id}", "GetTicket", ballastArn("{region}", "ticket/{id}")),
  route("POST", "/tickets/{id}/approve", "ApproveTicket", ballastArn("{region}", "ticket/{id}")),
  route("POST", "/tickets/{id}/reject", "RejectTicket", ballastArn("{region}", "ticket/{id}")),
  route("POST", "/tickets/{id}/close", "CloseTicket", ballastArn("{region}", "ticket/{id}")),
];

/** What a route not in the table asks: only a policy allowing every Ballast action allows it. */
export const UNMAPPED_ADMIN_ACTION = `${BALLAST_SERVICE}:UnmappedAdminRoute`;

/**
 * The IAM request of one admin call. `path` is below /admin/v1 (`/instances/i-1`), decoded
 * segment by segment; a route the table does not know asks `UNMAPPED_ADMIN_ACTION` on `*`, so a
 * route added without a row here is an administrator's alone until it gets one.
 */
export function adminRequest(method: string, path: string, region: string): AccessRequest {
  const segments = path.split("/").filter((s) => s !== "");
  for (const r of ADMIN_ROUTES) {
    if (r.method !== method) continue;
    const template = r.path.split("/").filter((s) => s !== "");
    if (template.length !== segments.length) continue;
    const values = new Map<string, string>();
    let ok = true;
    for (let i = 0; i < template.length && ok; i++) {
      const t = template[i] as string;
      const s = segments[i] as string;
      if (t.startsWith("{")) values.set(t, safeDecode(s));
      else ok = t === s;
    }
    if (!ok) continue;
    let resource = r.resource.replace("{region}", region);
    for (const [k, v] of values) resource = resource.replace(k, v);
    return { action: r.action, resource };
  }
  return { action: UNMAPPED_ADMIN_ACTION, resource: "*" };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
