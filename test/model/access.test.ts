import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACTIONS } from "../../src/api/aws-query/actions/index.js";
import {
  ADMIN_ROUTES,
  accessDenied,
  adminRequest,
  ELB_ACTION_RESOURCES,
  effectivePolicyNames,
  elbRequests,
  LEGACY_ROLE_POLICIES,
  MANAGED_POLICIES,
  UNMAPPED_ADMIN_ACTION,
} from "../../src/model/access.js";
import { evaluate } from "../../src/model/iam-policy.js";
import type { Credential, LegacyRole } from "../../src/model/types.js";

const key = (role?: LegacyRole): Credential => ({
  accessKeyId: "AKIA1",
  secretAccessKey: "s",
  principal: "alice",
  ...(role === undefined ? {} : { role }),
  createdTime: "2026-01-01T00:00:00.000Z",
});

function allowedByRole(role: LegacyRole, action: string, resource = "*"): boolean {
  const names = effectivePolicyNames(undefined, key(role));
  const docs = names.map((n) => MANAGED_POLICIES.get(n)?.document).filter((d) => d !== undefined);
  return evaluate(docs, { action, resource }) === "allow";
}

/** Every route the admin API serves (its modules' route comments), as method and path. */
const SERVED_ROUTES: readonly [string, string][] = [
  ["GET", "/instances"],
  ["GET", "/load-balancers"],
  ["GET", "/load-balancers/web"],
  ["GET", "/load-balancers/web/stats"],
  ["GET", "/instances/i-1"],
  ["PUT", "/instances/i-1"],
  ["DELETE", "/instances/i-1"],
  ["GET", "/certificates"],
  ["GET", "/certificates/c"],
  ["PUT", "/certificates/c"],
  ["DELETE", "/certificates/c"],
  ["GET", "/subnets"],
  ["GET", "/subnets/subnet-1"],
  ["PUT", "/subnets/subnet-1"],
  ["DELETE", "/subnets/subnet-1"],
  ["GET", "/limits"],
  ["PUT", "/limits/classic-listeners"],
  ["DELETE", "/limits/classic-listeners"],
  ["GET", "/state/history"],
  ["GET", "/state/show"],
  ["GET", "/state/diff"],
  ["GET", "/state/verify"],
  ["POST", "/state/restore"],
  ["GET", "/state/export"],
  ["POST", "/state/import"],
  ["GET", "/state/backups"],
  ["POST", "/state/backups"],
  ["POST", "/state/compact"],
  ["GET", "/state/compactions"],
  ["POST", "/state/repair"],
  ["GET", "/alarms"],
  ["GET", "/guard/holds"],
  ["GET", "/agents"],
  ["GET", "/agent-keys"],
  ["POST", "/agent-keys/edge-1"],
  ["POST", "/agent-keys/edge-1/revoke"],
  ["GET", "/control-planes"],
  ["POST", "/guard/holds/us-east-1a/release"],
  ["POST", "/guard/holds/us-east-1a/discard"],
  ["GET", "/principals"],
  ["GET", "/principals/bob"],
  ["PUT", "/principals/bob"],
  ["DELETE", "/principals/bob"],
  ["POST", "/principals/bob/keys"],
  ["PUT", "/principals/bob/policies/P"],
  ["DELETE", "/principals/bob/policies/P"],
  ["GET", "/keys"],
  ["POST", "/keys/AKIA1/rotate"],
  ["POST", "/keys/AKIA1/deactivate"],
  ["POST", "/keys/AKIA1/activate"],
  ["DELETE", "/keys/AKIA1"],
  ["GET", "/policies"],
  ["GET", "/policies/P"],
  ["PUT", "/policies/P"],
  ["DELETE", "/policies/P"],
  ["GET", "/audit"],
  ["POST", "/tickets"],
  ["GET", "/tickets"],
  ["GET", "/tickets/tkt-0123456789abcdef"],
  ["POST", "/tickets/tkt-0123456789abcdef/approve"],
  ["POST", "/tickets/tkt-0123456789abcdef/reject"],
  ["POST", "/tickets/tkt-0123456789abcdef/close"],
];

describe("the action and resource table", () => {
  it("names every ELB action the API serves, and nothing else", () => {
    assert.deepEqual(Object.keys(ELB_ACTION_RESOURCES).sort(), [...ACTIONS.keys()].sort());
  });

  it("maps every served admin route to a ballast: action, and every table row is served", () => {
    for (const [method, path] of SERVED_ROUTES) {
      const r = adminRequest(method, path, "us-east-1");
      assert.notEqual(r.action, UNMAPPED_ADMIN_ACTION, `${method} ${path}`);
      assert.match(r.action, /^ballast:[A-Z][A-Za-z]+$/);
    }
    assert.equal(ADMIN_ROUTES.length, SERVED_ROUTES.length);
  });

  it("fills resources from the path and region", () => {
    assert.deepEqual(adminRequest("DELETE", "/instances/i-9", "us-east-1"), {
      action: "ballast:DeleteInstance",
      resource: "arn:aws:ballast::000000000000:instance/i-9",
    });
    assert.deepEqual(adminRequest("PUT", "/limits/classic-listeners", "eu-west-1"), {
      action: "ballast:PutLimit",
      resource: "arn:aws:ballast:eu-west-1:000000000000:limit/classic-listeners",
    });
    assert.deepEqual(adminRequest("POST", "/guard/holds/us-east-1a/release", "us-east-1"), {
      action: "ballast:ReleaseGuardHold",
      resource: "arn:aws:ballast::000000000000:guard-hold/us-east-1a",
    });
    assert.equal(adminRequest("POST", "/something/new", "us-east-1").action, UNMAPPED_ADMIN_ACTION);
  });

  it("ELB calls ask for their load balancers' ARNs; Describe* for *", () => {
    const p = (m: Record<string, string>) => (n: string) => m[n];
    assert.deepEqual(elbRequests("DeleteLoadBalancer", "eu-west-1", p({ LoadBalancerName: "web" })), [
      {
        action: "elasticloadbalancing:DeleteLoadBalancer",
        resource: "arn:aws:elasticloadbalancing:eu-west-1:000000000000:loadbalancer/web",
      },
    ]);
    assert.deepEqual(
      elbRequests(
        "AddTags",
        "us-east-1",
        p({ "LoadBalancerNames.member.1": "a", "LoadBalancerNames.member.2": "b" }),
      ).map((r) => r.resource),
      [
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/a",
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/b",
      ],
    );
    assert.deepEqual(
      elbRequests("DescribeLoadBalancers", "us-east-1", p({ "LoadBalancerNames.member.1": "a" })),
      [{ action: "elasticloadbalancing:DescribeLoadBalancers", resource: "*" }],
    );
  });

  it("words AccessDenied as AWS does", () => {
    assert.equal(
      accessDenied("rita", {
        action: "elasticloadbalancing:DeleteLoadBalancer",
        resource: "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/web",
      }).message,
      "User: arn:aws:iam::000000000000:user/rita is not authorized to perform: elasticloadbalancing:DeleteLoadBalancer on resource: arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/web",
    );
  });
});

describe("legacy roles read as managed policies", () => {
  it("maps each role", () => {
    assert.deepEqual(LEGACY_ROLE_POLICIES, {
      admin: "BallastAdministrator",
      operator: "BallastOperator",
      reader: "BallastReadOnly",
    });
    assert.deepEqual(
      effectivePolicyNames({ name: "alice", createdTime: "", policies: ["X"] }, key("reader")),
      ["X", "BallastReadOnly"],
    );
    assert.deepEqual(effectivePolicyNames(undefined, key()), []);
  });

  // What each role could do before policies, route by route and action by action.
  const lb = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/web";
  const rows: readonly [string, string, Record<LegacyRole, boolean>][] = [
    ["elasticloadbalancing:DescribeLoadBalancers", "*", { admin: true, operator: true, reader: true }],
    ["elasticloadbalancing:CreateLoadBalancer", lb, { admin: true, operator: true, reader: false }],
    ["elasticloadbalancing:DeleteLoadBalancer", lb, { admin: true, operator: true, reader: false }],
  ];
  for (const [action, resource, by] of rows)
    for (const role of ["admin", "operator", "reader"] as const)
      it(`${role}: ${action} ${by[role] ? "allowed" : "denied"}`, () => {
        assert.equal(allowedByRole(role, action, resource), by[role]);
      });

  const admin: readonly [string, string, Record<LegacyRole, boolean>][] = [
    ["GET", "/instances", { admin: true, operator: true, reader: true }],
    ["PUT", "/instances/i-1", { admin: true, operator: true, reader: false }],
    ["PUT", "/certificates/c", { admin: true, operator: true, reader: false }],
    ["DELETE", "/subnets/s", { admin: true, operator: true, reader: false }],
    ["PUT", "/limits/x", { admin: true, operator: true, reader: false }],
    ["GET", "/state/history", { admin: true, operator: true, reader: true }],
    ["GET", "/state/verify", { admin: true, operator: true, reader: true }],
    ["GET", "/state/backups", { admin: true, operator: true, reader: true }],
    ["GET", "/state/compactions", { admin: true, operator: true, reader: true }],
    ["GET", "/state/export", { admin: true, operator: false, reader: false }],
    ["POST", "/state/restore", { admin: true, operator: false, reader: false }],
    ["POST", "/state/import", { admin: true, operator: false, reader: false }],
    ["POST", "/state/compact", { admin: true, operator: false, reader: false }],
    ["POST", "/state/backups", { admin: true, operator: false, reader: false }],
    ["GET", "/alarms", { admin: true, operator: true, reader: true }],
    ["GET", "/agents", { admin: true, operator: true, reader: true }],
    ["POST", "/guard/holds/z/release", { admin: true, operator: false, reader: false }],
    ["PUT", "/principals/bob", { admin: true, operator: false, reader: false }],
    ["POST", "/keys/K/rotate", { admin: true, operator: false, reader: false }],
    ["PUT", "/policies/P", { admin: true, operator: false, reader: false }],
  ];
  for (const [method, path, by] of admin)
    for (const role of ["admin", "operator", "reader"] as const)
      it(`${role}: ${method} ${path} ${by[role] ? "allowed" : "denied"}`, () => {
        const r = adminRequest(method, path, "us-east-1");
        assert.equal(allowedByRole(role, r.action, r.resource), by[role]);
      });
});
