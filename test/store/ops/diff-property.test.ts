/**
 * Property test of the state diff: for many random pairs of states A and B (random load balancers
 * mutated in nested fields, plus inventory, subnets, limits, certificates and credentials),
 *
 * 1. diff(A, B) is empty exactly when A and B are deep-equal (whatever the key order of their
 *    documents);
 * 2. applying the reported changes' "after" side to A gives B (secrets aside: the diff never
 *    carries them), and the diff the other way round takes B back to A;
 * 3. every changed entity has at least one line, and no line carries a secret.
 *
 * Hand-rolled generator on a seeded PRNG (mulberry32): a failure prints its seed and case number,
 * and `DIFF_PROPERTY_SEED=<seed>` replays it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  BackendServerPolicies,
  Certificate,
  Credential,
  EntityKind,
  Listener,
  LoadBalancer,
  LoadBalancerAttributes,
  LoadBalancerPolicy,
  Protocol,
  Tag,
} from "../../../src/model/types.js";
import { ENTITY_KINDS } from "../../../src/model/types.js";
import { canonicalJson } from "../../../src/store/journal.js";
import {
  diffStates,
  type FieldChange,
  isEmptyDiff,
  type PathStep,
  type StateDiff,
} from "../../../src/store/ops/diff.js";
import { diffLines } from "../../../src/store/ops/diff-text.js";
import { emptyEntityMaps, type State } from "../../../src/store/ops/snapshot.js";
import { mulberry32 } from "./support.js";

type Rng = () => number;
type Json = unknown;
type Maps = ReturnType<typeof emptyEntityMaps>;

const SEED = Number(process.env.DIFF_PROPERTY_SEED ?? 20121224);
const CASES = 600;
const SECRET = "S3CRET-";

const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Rng, p: number): boolean => r() < p;
function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}
function subset<T>(r: Rng, xs: readonly T[]): T[] {
  return xs.filter(() => chance(r, 0.4));
}
function shuffle<T>(r: Rng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(r, 0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
function insertAt<T>(r: Rng, xs: readonly T[], x: T): T[] {
  const i = int(r, 0, xs.length);
  return [...xs.slice(0, i), x, ...xs.slice(i)];
}
function without<T>(r: Rng, xs: readonly T[]): T[] {
  if (xs.length === 0) return [];
  const i = int(r, 0, xs.length - 1);
  return [...xs.slice(0, i), ...xs.slice(i + 1)];
}

const PROTOCOLS: readonly Protocol[] = ["HTTP", "HTTPS", "TCP", "SSL"];
const PORTS = [25, 80, 443, 8080, 8443, 9000];
const POLICY_NAMES = ["sticky", "proxy", "auth", "tls", "app"];
const ATTRIBUTE_NAMES = [
  "CookieExpirationPeriod",
  "ProxyProtocol",
  "PublicKeyPolicyName",
  "Protocol-TLSv1.2",
];
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];
const INSTANCES = ["i-1", "i-2", "i-3", "i-4", "10.0.0.9"];
const TAG_KEYS = ["env", "team", "owner", "cost"];

function randomListener(r: Rng, port: number): Listener {
  return {
    protocol: pick(r, PROTOCOLS),
    loadBalancerPort: port,
    instanceProtocol: pick(r, PROTOCOLS),
    instancePort: pick(r, PORTS),
    ...(chance(r, 0.3) ? { sslCertificateId: `arn:cert/${int(r, 1, 3)}` } : {}),
    ...(chance(r, 0.5) ? { policyNames: subset(r, POLICY_NAMES) } : {}),
  };
}

function randomPolicy(r: Rng, name: string): LoadBalancerPolicy {
  // Attribute names may repeat (BackendServerAuthentication lists one PublicKeyPolicyName per key).
  return {
    policyName: name,
    policyTypeName: pick(r, [
      "LBCookieStickinessPolicyType",
      "ProxyProtocolPolicyType",
      "SSLNegotiationPolicyType",
    ]),
    attributes: Array.from({ length: int(r, 0, 3) }, () => ({
      name: pick(r, ATTRIBUTE_NAMES),
      value: String(int(r, 0, 3)),
    })),
  };
}

function randomAttributes(r: Rng): LoadBalancerAttributes {
  return {
    crossZoneLoadBalancing: { enabled: chance(r, 0.5) },
    connectionDraining: { enabled: chance(r, 0.5), timeout: pick(r, [60, 300]) },
    connectionSettings: { idleTimeout: pick(r, [30, 60, 120]) },
    accessLog: {
      enabled: chance(r, 0.5),
      emitInterval: pick(r, [5, 60]),
      ...(chance(r, 0.5) ? { s3BucketName: pick(r, ["logs", "audit"]) } : {}),
    },
    additionalAttributes: subset(r, ["elb.http.desyncmitigationmode", "x"]).map((key) => ({
      key,
      value: pick(r, ["defensive", "strictest"]),
    })),
  };
}

function randomTag(r: Rng, key: string): Tag {
  return chance(r, 0.7) ? { key, value: pick(r, ["a", "b", "prod"]) } : { key };
}

function randomLoadBalancer(r: Rng, name: string): LoadBalancer {
  const ports = subset(r, PORTS);
  const policies = subset(r, POLICY_NAMES).map((n) => randomPolicy(r, n));
  return {
    name,
    id: String(int(r, 1, 3)),
    dnsName: `${name}.elb.internal`,
    createdTime: "2026-12-24T00:00:00.000Z",
    scheme: pick(r, ["internet-facing", "internal"] as const),
    listeners: shuffle(r, ports).map((p) => randomListener(r, p)),
    availabilityZones: subset(r, ZONES),
    subnets: subset(r, ["subnet-1", "subnet-2"]),
    ...(chance(r, 0.3) ? { vpcId: "vpc-1" } : {}),
    securityGroups: subset(r, ["sg-1", "sg-2"]),
    healthCheck: {
      target: pick(r, ["TCP:80", "HTTP:80/health"]),
      interval: pick(r, [10, 30]),
      timeout: pick(r, [5, 9]),
      unhealthyThreshold: int(r, 2, 3),
      healthyThreshold: int(r, 2, 10),
    },
    instances: shuffle(r, subset(r, INSTANCES)),
    tags: shuffle(r, subset(r, TAG_KEYS)).map((k) => randomTag(r, k)),
    ...(chance(r, 0.6) ? { policies } : {}),
    ...(chance(r, 0.4)
      ? {
          backendServerPolicies: subset(r, PORTS).map(
            (p): BackendServerPolicies => ({ instancePort: p, policyNames: subset(r, POLICY_NAMES) }),
          ),
        }
      : {}),
    ...(chance(r, 0.4) ? { attributes: randomAttributes(r) } : {}),
  };
}

/** One random edit, most of them deep inside the document. */
function mutateLoadBalancer(r: Rng, lb: LoadBalancer): LoadBalancer {
  const edits: (() => LoadBalancer)[] = [
    () => ({ ...lb, scheme: lb.scheme === "internal" ? "internet-facing" : "internal" }),
    () => ({ ...lb, id: `${lb.id}x` }),
    () => {
      if (lb.vpcId !== undefined) {
        const { vpcId: _v, ...rest } = lb;
        return rest;
      }
      return { ...lb, vpcId: "vpc-2" };
    },
    () => {
      const free = PORTS.filter((p) => !lb.listeners.some((l) => l.loadBalancerPort === p));
      return free.length === 0
        ? lb
        : { ...lb, listeners: insertAt(r, lb.listeners, randomListener(r, pick(r, free))) };
    },
    () => ({ ...lb, listeners: without(r, lb.listeners) }),
    () => ({ ...lb, listeners: shuffle(r, lb.listeners) }),
    // SetLoadBalancerPoliciesOfListener, the change the 2012 trial's diff missed.
    () => ({
      ...lb,
      listeners: lb.listeners.map((l) => {
        if (!chance(r, 0.5)) return l;
        if (chance(r, 0.2)) {
          const { policyNames: _p, ...rest } = l;
          return rest;
        }
        return { ...l, policyNames: shuffle(r, subset(r, POLICY_NAMES)) };
      }),
    }),
    () => ({
      ...lb,
      listeners: lb.listeners.map((l) => (chance(r, 0.5) ? { ...l, instancePort: pick(r, PORTS) } : l)),
    }),
    () => ({
      ...lb,
      listeners: lb.listeners.map((l) => {
        if (!chance(r, 0.5)) return l;
        if (l.sslCertificateId === undefined) return { ...l, sslCertificateId: "arn:cert/9" };
        const { sslCertificateId: _c, ...rest } = l;
        return rest;
      }),
    }),
    () => {
      const policies = lb.policies ?? [];
      const free = POLICY_NAMES.filter((n) => !policies.some((p) => p.policyName === n));
      return free.length === 0
        ? lb
        : { ...lb, policies: insertAt(r, policies, randomPolicy(r, pick(r, free))) };
    },
    () => ({ ...lb, policies: without(r, lb.policies ?? []) }),
    () => ({
      ...lb,
      policies: (lb.policies ?? []).map((p) =>
        chance(r, 0.6)
          ? {
              ...p,
              attributes: p.attributes.map((a) => (chance(r, 0.5) ? { ...a, value: `${a.value}1` } : a)),
            }
          : p,
      ),
    }),
    () => ({
      ...lb,
      policies: (lb.policies ?? []).map((p) =>
        chance(r, 0.5)
          ? {
              ...p,
              attributes: insertAt(r, p.attributes, { name: pick(r, ATTRIBUTE_NAMES), value: "7" }),
            }
          : { ...p, attributes: shuffle(r, p.attributes) },
      ),
    }),
    () => {
      if (lb.policies === undefined) return { ...lb, policies: [] };
      const { policies: _p, ...rest } = lb;
      return rest;
    },
    () => {
      const current = lb.backendServerPolicies ?? [];
      const port = pick(r, PORTS);
      const others = current.filter((b) => b.instancePort !== port);
      const next = chance(r, 0.3)
        ? others
        : [...others, { instancePort: port, policyNames: subset(r, POLICY_NAMES) }];
      return { ...lb, backendServerPolicies: next };
    },
    () => ({ ...lb, attributes: randomAttributes(r) }),
    () => {
      if (!lb.attributes) return { ...lb, attributes: randomAttributes(r) };
      const a = lb.attributes;
      return {
        ...lb,
        attributes: {
          ...a,
          connectionDraining: { ...a.connectionDraining, timeout: a.connectionDraining.timeout + 1 },
          accessLog: chance(r, 0.5) ? { ...a.accessLog, s3BucketPrefix: "p/" } : a.accessLog,
          additionalAttributes: chance(r, 0.5)
            ? a.additionalAttributes.map((x) => ({ ...x, value: `${x.value}!` }))
            : without(r, a.additionalAttributes),
        },
      };
    },
    () => {
      const { attributes: _a, ...rest } = lb;
      return rest;
    },
    () => ({
      ...lb,
      healthCheck: {
        ...lb.healthCheck,
        [pick(r, ["interval", "timeout", "healthyThreshold"] as const)]: int(r, 1, 99),
      },
    }),
    () => ({ ...lb, healthCheck: { ...lb.healthCheck, target: `TCP:${pick(r, PORTS)}` } }),
    () => ({ ...lb, instances: shuffle(r, subset(r, INSTANCES)) }),
    () => ({ ...lb, instances: shuffle(r, lb.instances) }),
    () => (lb.instances.length > 0 ? { ...lb, instances: [...lb.instances, lb.instances[0] as string] } : lb),
    () => ({ ...lb, availabilityZones: subset(r, ZONES), securityGroups: subset(r, ["sg-1", "sg-3"]) }),
    () => ({ ...lb, subnets: shuffle(r, subset(r, ["subnet-1", "subnet-2", "subnet-3"])) }),
    () => {
      const free = TAG_KEYS.filter((k) => !lb.tags.some((t) => t.key === k));
      return free.length === 0 ? lb : { ...lb, tags: insertAt(r, lb.tags, randomTag(r, pick(r, free))) };
    },
    () => ({ ...lb, tags: without(r, lb.tags) }),
    () => ({ ...lb, tags: shuffle(r, lb.tags) }),
    () => ({
      ...lb,
      tags: lb.tags.map((t) =>
        chance(r, 0.5) ? (t.value === undefined ? { key: t.key, value: "z" } : { key: t.key }) : t,
      ),
    }),
  ];
  return pick(r, edits)();
}

function aCertificate(r: Rng, arn: string): Certificate {
  return {
    arn,
    name: arn.slice(-1),
    certificateBody: `-----BEGIN CERTIFICATE-----\n${"B".repeat(int(r, 10, 150))}\n-----END CERTIFICATE-----`,
    privateKey: `${SECRET}key-${int(r, 0, 9)}`,
    uploadedTime: "2026-12-01T00:00:00.000Z",
    notAfter: pick(r, ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z"]),
    subject: pick(r, ["CN=a", "CN=b"]),
  };
}

function aCredential(r: Rng, id: string): Credential {
  return {
    accessKeyId: id,
    secretAccessKey: `${SECRET}${int(r, 0, 9)}`,
    principal: pick(r, ["alice", "bob"]),
    role: pick(r, ["admin", "operator", "reader"] as const),
    createdTime: "2026-12-01T00:00:00.000Z",
  };
}

function randomState(r: Rng, revision: number): State {
  const m = emptyEntityMaps();
  for (const name of subset(r, ["web", "api", "shop", "blog", "mail"]))
    m.loadBalancer.set(name, randomLoadBalancer(r, name));
  for (const id of subset(r, ["i-1", "i-2", "i-3"]))
    m.instance.set(id, { instanceId: id, address: `10.0.0.${int(r, 1, 3)}`, zone: pick(r, ZONES) });
  for (const id of subset(r, ["subnet-1", "subnet-2"]))
    m.subnet.set(id, {
      subnetId: id,
      zone: pick(r, ZONES),
      vpcId: "vpc-1",
      ...(chance(r, 0.5) ? { cidrBlock: "10.0.0.0/24" } : {}),
    });
  for (const name of subset(r, ["classic-load-balancers", "classic-listeners"]))
    m.limit.set(name, { name, max: int(r, 1, 50) });
  for (const arn of subset(r, ["arn:cert/1", "arn:cert/2"])) m.certificate.set(arn, aCertificate(r, arn));
  for (const id of subset(r, ["AKIA1", "AKIA2"])) m.credential.set(id, aCredential(r, id));
  return { revision, entities: m };
}

/** B from A: a few random edits, mostly to load balancers; sometimes none. */
function mutateState(r: Rng, a: State): State {
  const m = copyMaps(a.entities);
  const edits = chance(r, 0.15) ? 0 : int(r, 1, 4);
  for (let i = 0; i < edits; i++) {
    const what = r();
    const lbs = [...m.loadBalancer.keys()];
    if (what < 0.6 && lbs.length > 0) {
      const name = pick(r, lbs);
      m.loadBalancer.set(name, mutateLoadBalancer(r, m.loadBalancer.get(name) as LoadBalancer));
    } else if (what < 0.68) {
      const name = pick(r, ["web", "api", "new", "other"]);
      m.loadBalancer.set(name, randomLoadBalancer(r, name));
    } else if (what < 0.74 && lbs.length > 0) {
      m.loadBalancer.delete(pick(r, lbs));
    } else if (what < 0.8) {
      const id = pick(r, ["i-1", "i-2", "i-9"]);
      if (chance(r, 0.3)) m.instance.delete(id);
      else m.instance.set(id, { instanceId: id, address: `10.0.1.${int(r, 1, 3)}`, zone: pick(r, ZONES) });
    } else if (what < 0.85) {
      const id = pick(r, ["subnet-1", "subnet-3"]);
      const s = m.subnet.get(id);
      if (s && chance(r, 0.5)) {
        const { cidrBlock: _c, ...rest } = s;
        m.subnet.set(id, s.cidrBlock === undefined ? { ...s, cidrBlock: "10.9.0.0/16" } : rest);
      } else m.subnet.set(id, { subnetId: id, zone: pick(r, ZONES), vpcId: "vpc-2" });
    } else if (what < 0.9) {
      const name = pick(r, ["classic-load-balancers", "classic-policies"]);
      if (chance(r, 0.2)) m.limit.delete(name);
      else m.limit.set(name, { name, max: int(r, 1, 50) });
    } else if (what < 0.95) {
      const arn = pick(r, ["arn:cert/1", "arn:cert/3"]);
      const c = m.certificate.get(arn);
      m.certificate.set(
        arn,
        c && chance(r, 0.7)
          ? { ...c, privateKey: `${SECRET}rotated`, notAfter: "2029-01-01T00:00:00.000Z" }
          : aCertificate(r, arn),
      );
    } else {
      const id = pick(r, ["AKIA1", "AKIA3"]);
      const c = m.credential.get(id);
      if (c && chance(r, 0.6))
        m.credential.set(
          id,
          chance(r, 0.5) ? { ...c, secretAccessKey: `${SECRET}new` } : { ...c, role: "reader" },
        );
      else if (c) m.credential.delete(id);
      else m.credential.set(id, aCredential(r, id));
    }
  }
  // Key order never matters: documents read back from another driver may have any.
  for (const kind of ENTITY_KINDS) {
    const km = m[kind] as Map<string, unknown>;
    for (const [key, doc] of km) if (chance(r, 0.5)) km.set(key, reorderKeys(r, doc));
  }
  return { revision: a.revision + 1, entities: m };
}

function copyMaps(from: State["entities"]): Maps {
  const m = emptyEntityMaps();
  for (const kind of ENTITY_KINDS) {
    const into = m[kind] as Map<string, unknown>;
    for (const [k, v] of from[kind] as ReadonlyMap<string, unknown>) into.set(k, v);
  }
  return m;
}

function reorderKeys(r: Rng, v: Json): Json {
  if (Array.isArray(v)) return v.map((x) => reorderKeys(r, x));
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(shuffle(r, Object.entries(v)).map(([k, x]) => [k, reorderKeys(r, x)]));
}

/** The state's entities in canonical form; secrets replaced when `redacted`. */
function form(s: State | Maps, redacted = false): string {
  const maps = "entities" in s ? s.entities : s;
  const out: Record<string, Record<string, Json>> = {};
  for (const kind of ENTITY_KINDS) {
    const entries: Record<string, Json> = {};
    for (const [k, v] of maps[kind] as ReadonlyMap<string, Json>) entries[k] = redacted ? stripSecrets(v) : v;
    out[kind] = entries;
  }
  return canonicalJson(out);
}

function stripSecrets(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripSecrets);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== "secretAccessKey" && k !== "privateKey")
      .map(([k, x]) => [k, stripSecrets(x)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Applying a diff: what a consumer of the structured form would do

function clone(v: Json): Json {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function applyDiff(a: State, d: StateDiff): Maps {
  const m = copyMaps(a.entities);
  for (const e of d.entities) {
    const km = m[e.kind as EntityKind] as Map<string, Json>;
    if (e.change === "created") km.set(e.key, clone(e.after));
    else if (e.change === "deleted") km.delete(e.key);
    else {
      let doc = clone(km.get(e.key));
      for (const f of e.fields) if (!f.secret) doc = applyAt(doc, f.path, f);
      km.set(e.key, doc);
    }
  }
  return m;
}

/** `container` with the change applied at `path` below it (undefined: remove it). */
function applyAt(container: Json, path: readonly PathStep[], f: FieldChange): Json {
  const [step, ...rest] = path;
  if (step === undefined) {
    if (f.op === "removed") return undefined;
    if (f.op === "reordered") {
      const by = f.by as string;
      const order = f.after as (string | number)[];
      return [...(container as Record<string, Json>[])].sort(
        (x, y) => order.indexOf(x[by] as string) - order.indexOf(y[by] as string),
      );
    }
    return clone(f.after);
  }
  if (typeof step === "string") {
    const obj = { ...((container ?? {}) as Record<string, Json>) };
    const value = applyAt(obj[step], rest, f);
    if (value === undefined) delete obj[step];
    else obj[step] = value;
    return obj;
  }
  const arr = [...((container ?? []) as Record<string, Json>[])];
  const i = arr.findIndex((x) => x[step.by] === step.is);
  if (rest.length === 0 && f.op === "added") {
    arr.splice(Math.min(f.at ?? arr.length, arr.length), 0, clone(f.after) as Record<string, Json>);
  } else if (rest.length === 0 && f.op === "removed") {
    assert.ok(i >= 0, `removed element ${f.field} is in the array`);
    arr.splice(i, 1);
  } else {
    assert.ok(i >= 0, `changed element ${f.field} is in the array`);
    arr[i] = applyAt(arr[i], rest, f) as Record<string, Json>;
  }
  return arr;
}

describe("state diff: property", () => {
  it(`is empty exactly when the states are equal, and its "after" side reproduces B (${CASES} cases, seed ${SEED})`, () => {
    const r = mulberry32(SEED);
    let empty = 0;
    let lbFieldChanges = 0;
    for (let n = 0; n < CASES; n++) {
      const where = `case ${n} of seed ${SEED}`;
      const a = randomState(r, 1);
      const b = mutateState(r, a);
      const d = diffStates(a, b);
      const equal = form(a) === form(b);
      assert.equal(isEmptyDiff(d), equal, `${where}: diff empty exactly when A equals B`);
      if (equal) empty++;

      assert.equal(form(applyDiff(a, d), true), form(b, true), `${where}: A + diff(A, B) = B`);
      const back = diffStates(b, a);
      assert.equal(form(applyDiff(b, back), true), form(a, true), `${where}: B + diff(B, A) = A`);

      const lines = diffLines(d);
      for (const e of d.entities) {
        const head = e.kind === "loadBalancer" ? `load balancer ${e.key}` : `${e.kind} ${e.key}`;
        assert.ok(
          lines.some((l) => l.startsWith(head)),
          `${where}: a line for ${head}`,
        );
        if (e.kind === "loadBalancer") lbFieldChanges += e.fields.length;
      }
      assert.ok(
        lines.every((l) => l.trim() !== ""),
        `${where}: no empty line`,
      );
      assert.ok(!lines.join("\n").includes(SECRET), `${where}: no secret in the lines`);
      assert.ok(!JSON.stringify(d).includes(SECRET), `${where}: no secret in the structured diff`);
    }
    // The generator must exercise both sides of the property and the nested fields.
    assert.ok(empty > CASES / 20, `some pairs are equal (${empty})`);
    assert.ok(empty < CASES / 2, `most pairs differ (${empty} equal)`);
    assert.ok(lbFieldChanges > CASES, `many load balancer field changes (${lbFieldChanges})`);
  });
});
