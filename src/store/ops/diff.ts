import { ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import type { Store } from "../store.js";
import { compareKeys } from "./entity.js";
import { advanceState, type State, stateAt } from "./snapshot.js";

export type EntityChangeType = "created" | "deleted" | "modified";

/** One step of a field path: a property name, or the element of an array whose field `by` is `is`. */
export type PathStep = string | { readonly by: string; readonly is: string | number };

export interface FieldChange {
  /** Where the change is, step by step from the document's root. */
  readonly path: readonly PathStep[];
  /** The path as text: `listeners[port=80].policyNames`. */
  readonly field: string;
  /**
   * `added`/`removed`: the field or array element is new / gone; `changed`: its value differs;
   * `reordered`: the elements both sides of a keyed array have stand in another order (`before`
   * and `after` are the keys of all its elements, in order).
   */
  readonly op: "added" | "removed" | "changed" | "reordered";
  readonly before?: unknown;
  readonly after?: unknown;
  /** For an element added to a keyed array: its index in the array after. */
  readonly at?: number;
  /** For `reordered`: the field the elements are keyed by (`before` and `after` list its values). */
  readonly by?: string;
  /** A secret changed: its values are left out. */
  readonly secret?: true;
}

export interface EntityDiff {
  readonly kind: EntityKind;
  readonly key: string;
  readonly change: EntityChangeType;
  /** Of a modified entity, every field that differs (empty for created and deleted ones). */
  readonly fields: readonly FieldChange[];
  /** The document of a deleted entity, secrets left out. */
  readonly before?: unknown;
  /** The document of a created entity, secrets left out. */
  readonly after?: unknown;
  /** What names the entity beside its key, as it stands after (a credential's principal and role). */
  readonly context?: string;
}

export interface StateDiff {
  readonly from: number;
  readonly to: number;
  /** Every entity that differs, in ENTITY_KINDS order, then by key. */
  readonly entities: readonly EntityDiff[];
}

export function isEmptyDiff(d: StateDiff): boolean {
  return d.entities.length === 0;
}

/** The entity diffs of one kind. */
export function diffsOfKind(d: StateDiff, kind: EntityKind): EntityDiff[] {
  return d.entities.filter((e) => e.kind === kind);
}

export function diffStates(a: State, b: State): StateDiff {
  const entities: EntityDiff[] = [];
  for (const kind of ENTITY_KINDS) {
    const ma = a.entities[kind] as ReadonlyMap<string, unknown>;
    const mb = b.entities[kind] as ReadonlyMap<string, unknown>;
    const keys = new Set([...ma.keys(), ...mb.keys()]);
    for (const key of [...keys].sort(compareKeys)) {
      const d = diffEntity(kind, key, ma.get(key), mb.get(key));
      if (d) entities.push(d);
    }
  }
  return { from: a.revision, to: b.revision, entities };
}

/** One entity's diff, or undefined when both documents are equal (or both absent). */
export function diffEntity(kind: EntityKind, key: string, x: unknown, y: unknown): EntityDiff | undefined {
  if (x === undefined && y === undefined) return undefined;
  const named = contextOf(kind, y ?? x);
  const context = named === undefined ? {} : { context: named };
  if (x === undefined) return { kind, key, change: "created", fields: [], after: redact(y), ...context };
  if (y === undefined) return { kind, key, change: "deleted", fields: [], before: redact(x), ...context };
  const fields: FieldChange[] = [];
  diffValue(kind, [], x, y, fields);
  return fields.length === 0 ? undefined : { kind, key, change: "modified", fields, ...context };
}

function contextOf(kind: EntityKind, doc: unknown): string | undefined {
  if (kind !== "credential" || !isRecord(doc)) return undefined;
  return doc.role === undefined ? String(doc.principal) : `${String(doc.principal)}, ${String(doc.role)}`;
}

export async function diffRevisions(store: Store, from: number, to: number): Promise<StateDiff> {
  const a = await stateAt(store, Math.min(from, to));
  const b = await advanceState(store, a, Math.max(from, to));
  return from <= to ? diffStates(a, b) : diffStates(b, a);
}

// ---------------------------------------------------------------------------------------------
// The structural comparison

type Rec = Readonly<Record<string, unknown>>;

interface KeyRule {
  /** The field of each element that identifies it. */
  readonly by: string;
  /** How the path text names it: `listeners[port=80]`. */
  readonly label: string;
}

/**
 * Arrays of records and the field each is matched by, per kind, by the names of the fields on
 * the way (keyed steps left out). Other arrays of records are matched by `name`, `key` or `id`
 * when every element has a distinct one, and otherwise compared whole.
 */
const KEYED: Readonly<Record<string, KeyRule>> = {
  "loadBalancer:listeners": { by: "loadBalancerPort", label: "port" },
  "loadBalancer:policies": { by: "policyName", label: "name" },
  "loadBalancer:policies.attributes": { by: "name", label: "name" },
  "loadBalancer:backendServerPolicies": { by: "instancePort", label: "instancePort" },
  "loadBalancer:tags": { by: "key", label: "key" },
  "loadBalancer:attributes.additionalAttributes": { by: "key", label: "key" },
};
const FALLBACK_KEYS = ["name", "key", "id"];

/** Top-level fields in the order a reader expects them; others follow in document order. */
const FIELD_ORDER: Partial<Record<EntityKind, readonly string[]>> = {
  loadBalancer: [
    "name",
    "id",
    "dnsName",
    "createdTime",
    "scheme",
    "listeners",
    "healthCheck",
    "instances",
    "availabilityZones",
    "subnets",
    "vpcId",
    "securityGroups",
    "tags",
    "policies",
    "backendServerPolicies",
    "attributes",
  ],
};

const SECRET_FIELD = /secret|privatekey|password/i;

function isRecord(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isEmptyContainer(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : isRecord(v) && Object.keys(v).length === 0;
}

/** Deep equality of JSON values: arrays in order, objects whatever their key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isRecord(a) && isRecord(b)) {
    for (const k of Object.keys(a)) if (!jsonEqual(a[k], b[k])) return false;
    for (const k of Object.keys(b)) if (a[k] === undefined && b[k] !== undefined) return false;
    return true;
  }
  return false;
}

function pathText(path: readonly PathStep[], kind: EntityKind): string {
  let out = "";
  const names: string[] = [];
  for (const step of path) {
    if (typeof step === "string") {
      out += out === "" ? step : `.${step}`;
      names.push(step);
    } else {
      const rule = keyRule(kind, names);
      out += `[${rule?.by === step.by ? rule.label : step.by}=${step.is}]`;
    }
  }
  return out;
}

function keyRule(kind: EntityKind, names: readonly string[]): KeyRule | undefined {
  return KEYED[`${kind}:${names.join(".")}`];
}

function fieldNames(path: readonly PathStep[]): string[] {
  return path.filter((s): s is string => typeof s === "string");
}

function isSecretPath(path: readonly PathStep[]): boolean {
  const last = path[path.length - 1];
  return typeof last === "string" && SECRET_FIELD.test(last);
}

function push(
  kind: EntityKind,
  out: FieldChange[],
  path: readonly PathStep[],
  op: FieldChange["op"],
  before: unknown,
  after: unknown,
  atOrBy?: number | string,
): void {
  const field = pathText(path, kind);
  if (isSecretPath(path)) {
    out.push({ path, field, op, secret: true });
    return;
  }
  out.push({
    path,
    field,
    op,
    ...(before === undefined ? {} : { before: redact(before) }),
    ...(after === undefined ? {} : { after: redact(after) }),
    ...(typeof atOrBy === "number" ? { at: atOrBy } : {}),
    ...(typeof atOrBy === "string" ? { by: atOrBy } : {}),
  });
}

function diffValue(kind: EntityKind, path: PathStep[], a: unknown, b: unknown, out: FieldChange[]): void {
  if (jsonEqual(a, b)) return;
  if (b === undefined) push(kind, out, path, "removed", a, undefined);
  else if (a === undefined) {
    // A new record or keyed array is listed field by field (element by element); an empty one, or
    // anything else, as a whole.
    if (isRecord(b) && !isEmptyContainer(b)) diffRecord(kind, path, {}, b, out);
    else if (Array.isArray(b) && b.length > 0 && arrayKey(kind, path, [], b))
      diffKeyedArray(kind, path, [], b, out);
    else push(kind, out, path, "added", undefined, b);
  } else if (isRecord(a) && isRecord(b)) diffRecord(kind, path, a, b, out);
  else if (Array.isArray(a) && Array.isArray(b) && arrayKey(kind, path, a, b))
    diffKeyedArray(kind, path, a, b, out);
  else push(kind, out, path, "changed", a, b);
}

function diffRecord(kind: EntityKind, path: PathStep[], a: Rec, b: Rec, out: FieldChange[]): void {
  const order = path.length === 0 ? (FIELD_ORDER[kind] ?? []) : [];
  const keys = new Set([...order, ...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) diffValue(kind, [...path, k], a[k], b[k], out);
}

/** The field the elements of arrays `a` and `b` are matched by, if every element has a distinct one. */
function arrayKey(
  kind: EntityKind,
  path: readonly PathStep[],
  a: unknown[],
  b: unknown[],
): string | undefined {
  const rule = keyRule(kind, fieldNames(path));
  const candidates = rule ? [rule.by] : FALLBACK_KEYS;
  const all = [...a, ...b];
  if (all.length === 0 || !all.every(isRecord)) return undefined;
  return candidates.find((by) => distinctKeys(a, by) && distinctKeys(b, by));
}

function distinctKeys(items: readonly unknown[], by: string): boolean {
  const seen = new Set<string | number>();
  for (const item of items) {
    const k = (item as Rec)[by];
    if ((typeof k !== "string" && typeof k !== "number") || seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

function diffKeyedArray(
  kind: EntityKind,
  path: PathStep[],
  a: readonly unknown[],
  b: readonly unknown[],
  out: FieldChange[],
): void {
  const by = arrayKey(kind, path, [...a], [...b]) as string;
  const keyOf = (item: unknown): string | number => (item as Rec)[by] as string | number;
  const inA = new Map(a.map((item) => [keyOf(item), item]));
  const inB = new Map(b.map((item, i) => [keyOf(item), { item, i }]));
  const step = (is: string | number): PathStep[] => [...path, { by, is }];
  for (const item of a)
    if (!inB.has(keyOf(item))) push(kind, out, step(keyOf(item)), "removed", item, undefined);
  for (const item of a) {
    const k = keyOf(item);
    const other = inB.get(k);
    if (other) diffValue(kind, step(k), item, other.item, out);
  }
  b.forEach((item, i) => {
    if (!inA.has(keyOf(item))) push(kind, out, step(keyOf(item)), "added", undefined, item, i);
  });
  // The elements both sides have, in the same relative order? Otherwise say so, with every key.
  const keptA = a.map(keyOf).filter((k) => inB.has(k));
  const keptB = b.map(keyOf).filter((k) => inA.has(k));
  if (keptA.some((k, i) => k !== keptB[i]))
    push(kind, out, path, "reordered", a.map(keyOf), b.map(keyOf), by);
}

/** A copy of a JSON value with every secret field left out (the value itself when it has none). */
function redact(v: unknown): unknown {
  if (!hasSecret(v)) return v;
  if (Array.isArray(v)) return v.map(redact);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Rec)) if (!SECRET_FIELD.test(k)) out[k] = redact(x);
  return out;
}

function hasSecret(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasSecret);
  if (!isRecord(v)) return false;
  return Object.entries(v).some(([k, x]) => SECRET_FIELD.test(k) || hasSecret(x));
}

// ---------------------------------------------------------------------------------------------
// Lines for a person
