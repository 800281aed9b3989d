/**
 * The policy language: IAM-style JSON policy documents, parsed, validated and evaluated as IAM
 * evaluates identity-based policies. Pure.
 *
 *   { "Version": "2012-10-17",
 *     "Statement": [ { "Sid"?: "…", "Effect": "Allow" | "Deny",
 *                      "Action" | "NotAction": "svc:Name" | ["svc:Desc*", …] | "*",
 *                      "Resource" | "NotResource": "arn:…" | ["arn:…:loadbalancer/web-?", …] | "*" } ] }
 *
 * Evaluation: default deny; any matching Allow allows; any matching explicit Deny wins over every
 * Allow. Actions match case-insensitively (IAM's rule), resources case-sensitively; `*` matches any
 * run of characters (`/` and `:` included) and `?` any one character, in both.
 * Not supported (refused with a clear error rather than ignored): `Condition`, `Principal`.
 */
import { BallastError } from "./errors.js";

export type Effect = "Allow" | "Deny";

export interface PolicyStatement {
  readonly sid?: string;
  readonly effect: Effect;
  /** Exactly one of `actions` / `notActions`. */
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  /** Exactly one of `resources` / `notResources`. */
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
}

export interface PolicyDocument {
  readonly version: string;
  readonly statements: readonly PolicyStatement[];
}

/** What a call asks: one action on one resource. */
export interface AccessRequest {
  /** `elasticloadbalancing:DeleteLoadBalancer`, `ballast:RestoreState`. */
  readonly action: string;
  /** An ARN, or `*` for actions that name no resource (ELB's Describe*). */
  readonly resource: string;
}

/** IAM's three outcomes: an explicit Deny, an Allow, or nothing matched (deny by default). */
export type Decision = "allow" | "explicitDeny" | "implicitDeny";

export const POLICY_VERSIONS: readonly string[] = ["2012-10-17", "2008-10-17"];
/** IAM's size limit of a managed policy document, in characters without whitespace. */
export const MAX_POLICY_CHARS = 6144;

const STATEMENT_KEYS = new Set(["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"]);
const ACTION = /^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/;
const SID = /^[a-zA-Z0-9]*$/;

function malformed(message: string): BallastError {
  return new BallastError("MalformedPolicyDocument", message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses and validates a policy document given as JSON text or as an already parsed value. */
export function parsePolicy(input: string | unknown): PolicyDocument {
  let doc: unknown = input;
  if (typeof input === "string") {
    if (input.replace(/\s/g, "").length > MAX_POLICY_CHARS)
      throw malformed(`The policy document is over ${MAX_POLICY_CHARS} characters (whitespace not counted)`);
    try {
      doc = JSON.parse(input);
    } catch {
      throw malformed("The policy document is not valid JSON");
    }
  }
  if (!isRecord(doc)) throw malformed("The policy document must be a JSON object");
  for (const key of Object.keys(doc)) {
    if (key !== "Version" && key !== "Statement" && key !== "Id")
      throw malformed(`Unknown field ${key} in the policy document (expected Version, Statement, Id)`);
  }
  const version = doc.Version ?? "2008-10-17";
  if (typeof version !== "string" || !POLICY_VERSIONS.includes(version))
    throw malformed(`Version must be "2012-10-17" or "2008-10-17", got ${JSON.stringify(version)}`);
  if (doc.Statement === undefined) throw malformed("The policy document must have a Statement");
  const raw = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  if (raw.length === 0) throw malformed("Statement must not be empty");
  return { version, statements: raw.map((s, i) => parseStatement(s, i + 1)) };
}

function parseStatement(raw: unknown, n: number): PolicyStatement {
  const where = `Statement ${n}`;
  if (!isRecord(raw)) throw malformed(`${where} must be a JSON object`);
  if ("Principal" in raw || "NotPrincipal" in raw)
    throw malformed(`${where}: Policy document should not specify a principal (it is attached to one)`);
  if ("Condition" in raw) throw malformed(`${where}: Condition is not supported by Ballast`);
  for (const key of Object.keys(raw))
    if (!STATEMENT_KEYS.has(key)) throw malformed(`${where}: unknown field ${key}`);
  const sid = raw.Sid;
  if (sid !== undefined && (typeof sid !== "string" || !SID.test(sid)))
    throw malformed(`${where}: Sid must be letters and digits only`);
  const effect = raw.Effect;
  if (effect === undefined) throw malformed(`${where}: Missing required field Effect`);
  if (effect !== "Allow" && effect !== "Deny")
    throw malformed(`${where}: Effect must be "Allow" or "Deny", got ${JSON.stringify(effect)}`);
  const actions = oneOf(raw, "Action", "NotAction", where, checkAction);
  const resources = oneOf(raw, "Resource", "NotResource", where, checkResource);
  return {
    ...(sid === undefined ? {} : { sid }),
    effect,
    ...(actions.not ? { notActions: actions.values } : { actions: actions.values }),
    ...(resources.not ? { notResources: resources.values } : { resources: resources.values }),
  };
}

function oneOf(
  raw: Record<string, unknown>,
  name: string,
  notName: string,
  where: string,
  check: (value: string, where: string) => void,
): { not: boolean; values: readonly string[] } {
  const has = raw[name] !== undefined;
  const hasNot = raw[notName] !== undefined;
  if (has && hasNot) throw malformed(`${where}: give ${name} or ${notName}, not both`);
  if (!has && !hasNot) throw malformed(`${where}: Policy statement must contain ${name} or ${notName}`);
  const field = has ? name : notName;
  const value = raw[field];
  const values = typeof value === "string" ? [value] : value;
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === "string"))
    throw malformed(`${where}: ${field} must be a string or a non-empty list of strings`);
  for (const v of values as string[]) check(v, `${where}: ${field}`);
  return { not: !has, values: values as string[] };
}

function checkAction(value: string, where: string): void {
  if (value !== "*" && !ACTION.test(value))
    throw malformed(
      `${where} ${JSON.stringify(value)} must be "*" or a service prefix and an action name, such as elasticloadbalancing:Describe* or ballast:RestoreState`,
    );
}

function checkResource(value: string, where: string): void {
  if (value === "*") return;
  if (!value.startsWith("arn:") || value.split(":").length < 6)
    throw malformed(
      `${where} ${JSON.stringify(value)} must be in ARN format (arn:partition:service:region:account:resource) or "*"`,
    );
}

const PATTERNS = new Map<string, RegExp>();

/** `*` and `?` wildcards, compiled once per distinct pattern. */
function pattern(glob: string, ignoreCase: boolean): RegExp {
  const key = `${ignoreCase ? "i" : "s"}${glob}`;
  let re = PATTERNS.get(key);
  if (re === undefined) {
    const body = glob
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/-]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`, ignoreCase ? "is" : "s");
    if (PATTERNS.size < 10_000) PATTERNS.set(key, re);
  }
  return re;
}

export function matchesAction(glob: string, action: string): boolean {
  return glob === "*" || pattern(glob, true).test(action);
}

export function matchesResource(glob: string, resource: string): boolean {
  return glob === "*" || pattern(glob, false).test(resource);
}

/** Whether one statement applies to the request (its Effect aside). */
export function statementMatches(s: PolicyStatement, request: AccessRequest): boolean {
  const action = s.actions
    ? s.actions.some((g) => matchesAction(g, request.action))
    : !(s.notActions ?? []).some((g) => matchesAction(g, request.action));
  if (!action) return false;
  return s.resources
    ? s.resources.some((g) => matchesResource(g, request.resource))
    : !(s.notResources ?? []).some((g) => matchesResource(g, request.resource));
}

/** IAM's evaluation of identity-based policies: explicit Deny > Allow > default deny. */
export function evaluate(policies: readonly PolicyDocument[], request: AccessRequest): Decision {
  let allowed = false;
  for (const p of policies) {
    for (const s of p.statements) {
      if (!statementMatches(s, request)) continue;
      if (s.effect === "Deny") return "explicitDeny";
      allowed = true;
    }
  }
  return allowed ? "allow" : "implicitDeny";
}

/** The document back in IAM's JSON shape (for show and export). */
export function policyJson(doc: PolicyDocument): Record<string, unknown> {
  const one = (v: readonly string[]): string | readonly string[] => (v.length === 1 ? (v[0] as string) : v);
  return {
    Version: doc.version,
    Statement: doc.statements.map((s) => ({
      ...(s.sid === undefined ? {} : { Sid: s.sid }),
      Effect: s.effect,
      ...(s.actions ? { Action: one(s.actions) } : { NotAction: one(s.notActions ?? []) }),
      ...(s.resources ? { Resource: one(s.resources) } : { NotResource: one(s.notResources ?? []) }),
    })),
  };
}
