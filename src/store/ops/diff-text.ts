/**
 * A state diff in words, for operators (`state diff`, restore and repair summaries): the
 * operator's words where they exist ("listener HTTP:80 → HTTP:8080 added", "instance i-123
 * registered", "health check interval 30 → 10"), else the path and its values; secrets only said
 * to have changed.
 */
import { createHash } from "node:crypto";
import type { EntityKind, Listener } from "../../model/types.js";
import type { EntityDiff, FieldChange, StateDiff } from "./diff.js";

type Rec = Readonly<Record<string, unknown>>;

const KIND_LABEL: Partial<Record<EntityKind, string>> = { loadBalancer: "load balancer" };

export function listenerText(l: Listener): string {
  const cert = l.sslCertificateId ? ` (certificate ${l.sslCertificateId})` : "";
  const policies = l.policyNames && l.policyNames.length > 0 ? ` [policies ${l.policyNames.join(", ")}]` : "";
  return `${l.protocol}:${l.loadBalancerPort} → ${l.instanceProtocol}:${l.instancePort}${cert}${policies}`;
}

/** The diff as lines for a person: one per change, in the order of `entities`. */
export function diffLines(d: StateDiff): string[] {
  const out: string[] = [];
  for (const e of d.entities) out.push(...entityLines(e));
  return out;
}

function entityLines(e: EntityDiff): string[] {
  const doc = (e.after ?? e.before) as Rec | undefined;
  const context = e.context === undefined ? "" : ` (${e.context})`;
  const head = `${KIND_LABEL[e.kind] ?? e.kind} ${e.key}${context}`;
  if (e.change !== "modified") {
    const summary = doc ? createdSummary(e.kind, e.change, doc) : "";
    return [`${head}: ${e.change === "created" ? createdWord(e.kind) : deletedWord(e.kind)}${summary}`];
  }
  // A credential's changes are one line: the key is what an operator looks for.
  if (e.kind === "credential")
    return [`${head}: ${e.fields.flatMap((f) => fieldLines(e.kind, f)).join(", ")}`];
  return e.fields.flatMap((f) => fieldLines(e.kind, f).map((l) => `${head}: ${l}`));
}

function createdWord(kind: EntityKind): string {
  return kind === "instance" ? "added to inventory" : "created";
}

function deletedWord(kind: EntityKind): string {
  return kind === "instance" ? "removed from inventory" : "deleted";
}

function createdSummary(kind: EntityKind, change: "created" | "deleted", doc: Rec): string {
  switch (kind) {
    case "instance":
      return change === "created"
        ? ` (${doc.address} in ${doc.zone})`
        : ` (was ${doc.address} in ${doc.zone})`;
    case "certificate":
      return change === "created" ? ` (${doc.subject}, valid until ${doc.notAfter})` : "";
    case "subnet":
      return change === "created" ? ` (${doc.zone}, ${doc.vpcId})` : "";
    case "limit":
      return change === "created" ? ` (max ${doc.max})` : ` (was max ${doc.max})`;
    default:
      return "";
  }
}

/** The words for one field change; several lines when a set of values gained and lost members. */
function fieldLines(kind: EntityKind, f: FieldChange): string[] {
  if (f.secret) {
    const last = f.path[f.path.length - 1];
    const name = last === "secretAccessKey" ? "secret" : last === "privateKey" ? "private key" : f.field;
    return [`${name} ${f.op}`];
  }
  if (kind === "loadBalancer") {
    const friendly = loadBalancerLines(f);
    if (friendly) return friendly;
  }
  if (f.op === "reordered") return [`${f.field} order: ${keysText(f.before)} → ${keysText(f.after)}`];
  return [`${f.field}: ${valueText(f.before, f.after)} → ${valueText(f.after, f.before)}`];
}

const SETS: Readonly<Record<string, readonly [string, string, string]>> = {
  instances: ["instance", "registered", "deregistered"],
  availabilityZones: ["availability zone", "added", "removed"],
  subnets: ["subnet", "added", "removed"],
  securityGroups: ["security group", "added", "removed"],
};

function loadBalancerLines(f: FieldChange): string[] | undefined {
  const [first, second, third] = f.path;
  if (typeof first !== "string") return undefined;
  if (f.path.length === 1) {
    const set = SETS[first];
    if (!set || f.op === "reordered") return undefined;
    const before = stringsOf(f.before);
    const after = stringsOf(f.after);
    if (!before || !after) return undefined;
    const added = after.filter((x) => !before.includes(x));
    const removed = before.filter((x) => !after.includes(x));
    // Only the order (or a duplicate) changed: the generic line says how.
    if (added.length === 0 && removed.length === 0) return undefined;
    return [
      ...added.map((x) => `${set[0]} ${x} ${set[1]}`),
      ...removed.map((x) => `${set[0]} ${x} ${set[2]}`),
    ];
  }
  if (first === "healthCheck" && typeof second === "string" && f.path.length === 2 && f.op === "changed")
    return [`health check ${second} ${String(f.before)} → ${String(f.after)}`];
  if (typeof second !== "object") return undefined;
  if (first === "tags" && third === "value" && f.path.length === 3) {
    const text = (v: unknown): string => (v === undefined ? "(no value)" : String(v));
    return [`tag ${second.is} ${text(f.before)} → ${text(f.after)}`];
  }
  if (f.path.length !== 2 || (f.op !== "added" && f.op !== "removed")) return undefined;
  const element = (f.op === "added" ? f.after : f.before) as Rec;
  if (first === "listeners") return [`listener ${listenerText(element as unknown as Listener)} ${f.op}`];
  if (first === "tags") {
    const value = element.value === undefined ? "" : `=${String(element.value)}`;
    return [`tag ${second.is}${value} ${f.op}`];
  }
  if (first === "policies") return [`policy ${second.is} (${String(element.policyTypeName)}) ${f.op}`];
  return undefined;
}

function stringsOf(v: unknown): string[] | undefined {
  if (v === undefined) return [];
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;
}

function keysText(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(", ") : String(v);
}

/** One side of a change as text; an absent side is "(none)", or `[]` beside a non-empty array. */
function valueText(v: unknown, other: unknown): string {
  if (v === undefined) return Array.isArray(other) && other.length > 0 ? "[]" : "(none)";
  if (typeof v === "string") {
    if (v.length > 100 || v.includes("\n")) {
      const digest = createHash("sha256").update(v).digest("hex").slice(0, 12);
      return `(${v.length} characters, sha256 ${digest}…)`;
    }
    return v === "" || /\s/.test(v) ? JSON.stringify(v) : v;
  }
  return JSON.stringify(v);
}
