import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isBallastError } from "../../src/model/errors.js";
import {
  type Decision,
  evaluate,
  matchesResource,
  parsePolicy,
  policyJson,
} from "../../src/model/iam-policy.js";

const LB = (name: string, region = "us-east-1") =>
  `arn:aws:elasticloadbalancing:${region}:000000000000:loadbalancer/${name}`;

interface EvalCase {
  readonly name: string;
  readonly policies: readonly unknown[];
  readonly action: string;
  readonly resource: string;
  readonly expect: Decision;
}

const allow = (Action: unknown, Resource: unknown = "*") => ({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action, Resource }],
});
const deny = (Action: unknown, Resource: unknown = "*") => ({
  Version: "2012-10-17",
  Statement: { Effect: "Deny", Action, Resource },
});

const CASES: readonly EvalCase[] = [
  {
    name: "no policy: default deny",
    policies: [],
    action: "elasticloadbalancing:DescribeLoadBalancers",
    resource: "*",
    expect: "implicitDeny",
  },
  {
    name: "exact action",
    policies: [allow("elasticloadbalancing:DescribeLoadBalancers")],
    action: "elasticloadbalancing:DescribeLoadBalancers",
    resource: "*",
    expect: "allow",
  },
  {
    name: "actions match case-insensitively",
    policies: [allow("ElasticLoadBalancing:describeloadbalancers")],
    action: "elasticloadbalancing:DescribeLoadBalancers",
    resource: "*",
    expect: "allow",
  },
  {
    name: "Describe* allows a Describe",
    policies: [allow("elasticloadbalancing:Describe*")],
    action: "elasticloadbalancing:DescribeTags",
    resource: "*",
    expect: "allow",
  },
  {
    name: "Describe* does not allow Create",
    policies: [allow("elasticloadbalancing:Describe*")],
    action: "elasticloadbalancing:CreateLoadBalancer",
    resource: LB("web"),
    expect: "implicitDeny",
  },
  {
    name: "service wildcard",
    policies: [allow("elasticloadbalancing:*")],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("web"),
    expect: "allow",
  },
  {
    name: "service wildcard is per service",
    policies: [allow("elasticloadbalancing:*")],
    action: "ballast:RestoreState",
    resource: "*",
    expect: "implicitDeny",
  },
  {
    name: "* alone allows everything",
    policies: [allow("*")],
    action: "ballast:RestoreState",
    resource: "arn:aws:ballast::000000000000:state",
    expect: "allow",
  },
  {
    name: "? is one character",
    policies: [allow("elasticloadbalancing:*", LB("web-?"))],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("web-1"),
    expect: "allow",
  },
  {
    name: "? is exactly one character",
    policies: [allow("elasticloadbalancing:*", LB("web-?"))],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("web-10"),
    expect: "implicitDeny",
  },
  {
    name: "resource wildcard across regions",
    policies: [allow("elasticloadbalancing:*", "arn:aws:elasticloadbalancing:*:*:loadbalancer/web*")],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("web-a", "eu-west-1"),
    expect: "allow",
  },
  {
    name: "resources match case-sensitively",
    policies: [allow("elasticloadbalancing:*", LB("Web"))],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("web"),
    expect: "implicitDeny",
  },
  {
    name: "an ARN does not match the request resource *",
    policies: [allow("elasticloadbalancing:*", LB("web"))],
    action: "elasticloadbalancing:DescribeLoadBalancers",
    resource: "*",
    expect: "implicitDeny",
  },
  {
    name: "list of actions",
    policies: [allow(["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"])],
    action: "elasticloadbalancing:RemoveTags",
    resource: LB("a"),
    expect: "allow",
  },
  {
    name: "explicit deny beats allow *",
    policies: [allow("*"), deny("elasticloadbalancing:DeleteLoadBalancer", LB("prod"))],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("prod"),
    expect: "explicitDeny",
  },
  {
    name: "a deny on another LB leaves this one allowed",
    policies: [allow("*"), deny("elasticloadbalancing:DeleteLoadBalancer", LB("prod"))],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("test"),
    expect: "allow",
  },
  {
    name: "deny in the same document as the allow",
    policies: [
      {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Deny", Action: "*", Resource: LB("x") },
          { Effect: "Allow", Action: "*", Resource: "*" },
        ],
      },
    ],
    action: "elasticloadbalancing:ConfigureHealthCheck",
    resource: LB("x"),
    expect: "explicitDeny",
  },
  {
    name: "a deny alone is still a deny",
    policies: [deny("*")],
    action: "elasticloadbalancing:DescribeTags",
    resource: "*",
    expect: "explicitDeny",
  },
  {
    name: "NotAction allows everything else",
    policies: [
      {
        Version: "2012-10-17",
        Statement: { Effect: "Allow", NotAction: "elasticloadbalancing:Delete*", Resource: "*" },
      },
    ],
    action: "elasticloadbalancing:CreateLoadBalancer",
    resource: LB("a"),
    expect: "allow",
  },
  {
    name: "NotAction leaves its actions out",
    policies: [
      {
        Version: "2012-10-17",
        Statement: { Effect: "Allow", NotAction: "elasticloadbalancing:Delete*", Resource: "*" },
      },
    ],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("a"),
    expect: "implicitDeny",
  },
  {
    name: "NotResource deny protects all but one",
    policies: [
      allow("*"),
      {
        Version: "2012-10-17",
        Statement: { Effect: "Deny", Action: "elasticloadbalancing:Delete*", NotResource: LB("scratch") },
      },
    ],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("prod"),
    expect: "explicitDeny",
  },
  {
    name: "NotResource deny spares its resource",
    policies: [
      allow("*"),
      {
        Version: "2012-10-17",
        Statement: { Effect: "Deny", Action: "elasticloadbalancing:Delete*", NotResource: LB("scratch") },
      },
    ],
    action: "elasticloadbalancing:DeleteLoadBalancer",
    resource: LB("scratch"),
    expect: "allow",
  },
  {
    name: "ballast action wildcard",
    policies: [allow("ballast:Get*")],
    action: "ballast:GetInstances",
    resource: "arn:aws:ballast::000000000000:instance/i-1",
    expect: "allow",
  },
  {
    name: "ballast:* does not cover ELB",
    policies: [allow("ballast:*")],
    action: "elasticloadbalancing:DescribeLoadBalancers",
    resource: "*",
    expect: "implicitDeny",
  },
  {
    name: "Version may be omitted (2008-10-17)",
    policies: [{ Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }],
    action: "ballast:ReadAudit",
    resource: "*",
    expect: "allow",
  },
];

describe("policy evaluation (IAM's rules)", () => {
  for (const c of CASES)
    it(c.name, () => {
      assert.equal(
        evaluate(
          c.policies.map((p) => parsePolicy(JSON.stringify(p))),
          { action: c.action, resource: c.resource },
        ),
        c.expect,
      );
    });
});

const INVALID: readonly [string, unknown, RegExp][] = [
  ["not JSON", "{", /not valid JSON/],
  ["not an object", "[]", /must be a JSON object/],
  ["bad Version", { Version: "2020-01-01", Statement: [] }, /Version must be/],
  ["no Statement", { Version: "2012-10-17" }, /must have a Statement/],
  ["empty Statement", { Version: "2012-10-17", Statement: [] }, /must not be empty/],
  ["unknown top-level field", { Version: "2012-10-17", Statement: [], Foo: 1 }, /Unknown field Foo/],
  [
    "missing Effect",
    { Version: "2012-10-17", Statement: [{ Action: "*", Resource: "*" }] },
    /Statement 1: Missing required field Effect/,
  ],
  [
    "bad Effect",
    { Version: "2012-10-17", Statement: [{ Effect: "allow", Action: "*", Resource: "*" }] },
    /Effect must be "Allow" or "Deny"/,
  ],
  [
    "no Action",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Resource: "*" }] },
    /must contain Action or NotAction/,
  ],
  [
    "Action and NotAction",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", NotAction: "*", Resource: "*" }] },
    /Action or NotAction, not both/,
  ],
  [
    "no Resource",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*" }] },
    /must contain Resource or NotResource/,
  ],
  [
    "action without a service",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "DeleteLoadBalancer", Resource: "*" }] },
    /service prefix/,
  ],
  [
    "resource not an ARN",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "loadbalancer/x" }] },
    /ARN format/,
  ],
  [
    "empty Action list",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: [], Resource: "*" }] },
    /non-empty list/,
  ],
  [
    "a number as Action",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: 3, Resource: "*" }] },
    /string or a non-empty list/,
  ],
  [
    "Condition",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*", Condition: {} }] },
    /Condition is not supported/,
  ],
  [
    "Principal",
    { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "*", Resource: "*" }] },
    /should not specify a principal/,
  ],
  [
    "second statement wrong",
    {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "*", Resource: "*" },
        { Effect: "Allow", Action: "*" },
      ],
    },
    /Statement 2/,
  ],
  [
    "bad Sid",
    { Version: "2012-10-17", Statement: [{ Sid: "a b", Effect: "Allow", Action: "*", Resource: "*" }] },
    /Sid/,
  ],
  [
    "too long",
    {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: Array(700).fill("elasticloadbalancing:Describe*"), Resource: "*" },
      ],
    },
    /over 6144/,
  ],
];

describe("policy validation", () => {
  for (const [name, doc, message] of INVALID)
    it(`refuses ${name} with MalformedPolicyDocument`, () => {
      assert.throws(
        () => parsePolicy(typeof doc === "string" ? doc : JSON.stringify(doc)),
        (e: unknown) => isBallastError(e) && e.code === "MalformedPolicyDocument" && message.test(e.message),
      );
    });

  it("round-trips a document to IAM's JSON", () => {
    const doc = {
      Version: "2012-10-17",
      Statement: [
        { Sid: "Read", Effect: "Allow", Action: "elasticloadbalancing:Describe*", Resource: "*" },
        { Effect: "Deny", NotAction: ["a:b", "c:d"], NotResource: LB("x") },
      ],
    };
    assert.deepEqual(policyJson(parsePolicy(JSON.stringify(doc))), doc);
  });

  it("regex metacharacters in a resource are literal", () => {
    assert.equal(matchesResource("arn:aws:x:::a.b", "arn:aws:x:::aXb"), false);
    assert.equal(matchesResource("arn:aws:x:::a(b)*", "arn:aws:x:::a(b)c"), true);
  });
});
