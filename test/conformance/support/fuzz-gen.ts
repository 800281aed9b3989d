/**
 * Random and malformed AWS Query requests from a seeded PRNG: actions from the ELB model and
 * garbage, parameter names from the model's members and garbage, values that are empty, huge,
 * unicode, control characters, out-of-range or of the wrong type, list indexes that are not 1..N.
 */
import { type ServiceModel, shape } from "./model.js";

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
}

/** Every wire name a member of `shapeName` can have: `Listeners.member.1.Protocol`, `HealthCheck.Target`. */
export function wireNames(model: ServiceModel, shapeName: string, prefix = "", depth = 0): string[] {
  const s = shape(model, shapeName);
  if (depth > 5) return [];
  if (s.type === "structure") {
    const out: string[] = [];
    for (const [member, ref] of Object.entries(s.members ?? {})) {
      const name = `${prefix}${member}`;
      const inner = shape(model, ref.shape);
      if (inner.type === "structure" || inner.type === "list" || inner.type === "map")
        out.push(...wireNames(model, ref.shape, `${name}.`, depth + 1));
      else out.push(name);
    }
    return out;
  }
  if (s.type === "list" && s.member) {
    const inner = shape(model, s.member.shape);
    const name = `${prefix}member.1`;
    return inner.type === "structure" ? wireNames(model, s.member.shape, `${name}.`, depth + 1) : [name];
  }
  if (s.type === "map") return [`${prefix}entry.1.key`, `${prefix}entry.1.value`];
  return [prefix.replace(/\.$/, "")];
}

export interface FuzzRequest {
  readonly method: "POST" | "GET";
  readonly action: string | undefined;
  /** Form pairs in order; a key may repeat. */
  readonly pairs: readonly (readonly [string, string])[];
  /** A raw body replacing the form (malformed encodings, JSON, XML, bytes). */
  readonly rawBody?: Buffer;
  readonly contentType: string;
  readonly auth: "valid" | "none" | "wrong-secret" | "unknown-key" | "garbled" | "expired";
}

const POOL_NAMES = ["fz-a", "fz-b", "fz-c", "fz-d"];
const INDEX_TOKENS = ["0", "-1", "999999", "abc", "1.5", "", "01", "1e3", "2", "3"];

export class RequestGenerator {
  readonly #rng: Prng;
  readonly #operations: readonly string[];
  readonly #names: ReadonlyMap<string, readonly string[]>;
  readonly #allNames: readonly string[];
  readonly #implemented: readonly string[];

  /** `implemented`: the actions Ballast answers, favoured so requests get past InvalidAction. */
  constructor(rng: Prng, model: ServiceModel, implemented: readonly string[]) {
    this.#implemented = implemented;
    this.#rng = rng;
    this.#operations = Object.keys(model.operations);
    const names = new Map<string, string[]>();
    for (const [op, def] of Object.entries(model.operations))
      names.set(op, def.input ? wireNames(model, def.input.shape) : []);
    this.#names = names;
    this.#allNames = [...new Set([...names.values()].flat())];
  }

  #action(): string | undefined {
    const r = this.#rng;
    const roll = r.next();
    if (roll < 0.45) return r.pick(this.#implemented);
    if (roll < 0.8) return r.pick(this.#operations);
    if (roll < 0.84) return undefined;
    if (roll < 0.88) return r.pick(this.#operations).toLowerCase();
    return this.#garbage();
  }

  #garbage(): string {
    const r = this.#rng;
    return r.pick([
      "",
      " ",
      "Foo",
      "DescribeLoadBalancers ",
      "../../etc/passwd",
      "<script>",
      "%00",
      "\u0000\u0001",
      "名前😀",
      "a".repeat(r.int(1, 300)),
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
    ]);
  }

  #index(name: string): string {
    const r = this.#rng;
    return name.replace(/member\.1|entry\.1/g, (m) => {
      if (r.chance(0.5)) return m;
      return `${m.split(".")[0]}.${r.pick(INDEX_TOKENS)}`;
    });
  }

  #name(action: string | undefined): string {
    const r = this.#rng;
    const own = action === undefined ? undefined : this.#names.get(action);
    const roll = r.next();
    if (own && own.length > 0 && roll < 0.7) return this.#index(r.pick(own));
    if (roll < 0.85) return this.#index(r.pick(this.#allNames));
    return r.pick([
      this.#garbage(),
      "Action",
      "Version",
      "LoadBalancerName.member.1",
      "Listeners.member",
      "Listeners.member.",
      "Listeners..member.1",
      "Instances.member.1.InstanceId.Extra",
      "HealthCheck",
      "Tags.member.1",
    ]);
  }

  value(): string {
    const r = this.#rng;
    return r.pick<() => string>([
      () => "",
      () => "x".repeat(10 * 1024),
      () => "名前😀\u200b\ufeff",
      () => "\u0000\u0001\u0007\r\n\t\u007f",
      () => "\ud800",
      () => String(-r.int(1, 1_000_000)),
      () => "99999999999999999999999",
      () => "1e309",
      () => r.pick(["NaN", "Infinity", "-0", "0x10", " 5 ", "5.5", "true", "null", "[]", "{}"]),
      () => String(r.int(0, 70000)),
      () => r.pick(POOL_NAMES),
      () => r.pick(["HTTP", "HTTPS", "TCP", "SSL", "http", "UDP"]),
      () => r.pick(["us-east-1a", "us-east-1b", "us-west-2a"]),
      () => r.pick(["10.0.0.1", "10.0.0.2", "i-0123456789abcdef0", "256.1.1.1"]),
      () => r.pick(["HTTP:80/", "TCP:80", "SSL:443", "HTTP:80", "FTP:1"]),
      () => r.pick(["internal", "internet-facing", "external"]),
      () => "<a>&amp;</a>]]>",
    ])();
  }

  /** A request that is nearly valid: one of the implemented actions with sensible members, then broken a little. */
  #nearlyValid(action: string): [string, string][] {
    const r = this.#rng;
    const name = r.pick(POOL_NAMES);
    const base: Record<string, [string, string][]> = {
      CreateLoadBalancer: [
        ["LoadBalancerName", name],
        ["Listeners.member.1.Protocol", "HTTP"],
        ["Listeners.member.1.LoadBalancerPort", String(r.int(1, 2000))],
        ["Listeners.member.1.InstancePort", "8080"],
        ["AvailabilityZones.member.1", "us-east-1a"],
      ],
      DeleteLoadBalancer: [["LoadBalancerName", name]],
      DescribeLoadBalancers: [["LoadBalancerNames.member.1", name]],
      RegisterInstancesWithLoadBalancer: [
        ["LoadBalancerName", name],
        ["Instances.member.1.InstanceId", `10.0.0.${r.int(1, 9)}`],
      ],
      DeregisterInstancesFromLoadBalancer: [
        ["LoadBalancerName", name],
        ["Instances.member.1.InstanceId", `10.0.0.${r.int(1, 9)}`],
      ],
      ConfigureHealthCheck: [
        ["LoadBalancerName", name],
        ["HealthCheck.Target", "TCP:80"],
        ["HealthCheck.Interval", "30"],
        ["HealthCheck.Timeout", "5"],
        ["HealthCheck.UnhealthyThreshold", "2"],
        ["HealthCheck.HealthyThreshold", "3"],
      ],
      DescribeInstanceHealth: [["LoadBalancerName", name]],
    };
    const pairs = Object.hasOwn(base, action) ? [...(base[action] ?? [])] : [];
    const edits = r.int(0, 2);
    for (let i = 0; i < edits && pairs.length > 0; i++) {
      const at = r.int(0, pairs.length - 1);
      const pair = pairs[at];
      if (!pair) continue;
      if (r.chance(0.5)) pairs[at] = [pair[0], this.value()];
      else pairs.splice(at, 1);
    }
    return pairs;
  }

  next(): FuzzRequest {
    const r = this.#rng;
    const action = this.#action();
    const pairs: [string, string][] = [];
    if (action !== undefined) pairs.push(["Action", action]);
    if (r.chance(0.9))
      pairs.push(["Version", r.chance(0.92) ? "2012-06-01" : r.pick(["", "2015-12-01", "x"])]);
    if (action !== undefined && r.chance(0.4)) pairs.push(...this.#nearlyValid(action));
    const count = r.int(0, 8);
    for (let i = 0; i < count; i++) pairs.push([this.#name(action), this.value()]);
    if (r.chance(0.08) && pairs.length > 0) {
      const dup = r.pick(pairs);
      pairs.push([dup[0], this.value()]);
    }
    // Node's HTTP parser caps the request head at 16 KB (see the todo case in fuzz.test.ts), so
    // only small requests go as GET.
    const small = pairs.reduce((n, [k, v]) => n + k.length + v.length, 0) < 4096;
    const method = small && r.chance(0.1) ? "GET" : "POST";
    const auth = r.chance(0.9)
      ? "valid"
      : r.pick(["none", "wrong-secret", "unknown-key", "garbled", "expired"] as const);
    let rawBody: Buffer | undefined;
    let contentType = "application/x-www-form-urlencoded; charset=utf-8";
    const roll = r.next();
    if (method === "POST" && roll < 0.05) {
      const form = new URLSearchParams(pairs).toString();
      rawBody = Buffer.from(
        `${form}&${r.pick(["%", "%zz", "%E0%A4%A", "%ff%fe", "a=%", "&&&=&"])}=${r.pick(["%", "%C0%80", "x"])}`,
      );
    } else if (method === "POST" && roll < 0.08) {
      contentType = r.pick(["application/json", "text/xml", "application/octet-stream", ""]);
    } else if (method === "POST" && roll < 0.12) {
      contentType = r.pick(["application/json", "text/xml", "application/x-www-form-urlencoded"]);
      rawBody = r.pick([
        Buffer.from(JSON.stringify(Object.fromEntries(pairs))),
        Buffer.from(`<Request><Action>${action ?? ""}</Action></Request>`),
        Buffer.from(Array.from({ length: r.int(1, 2048) }, () => r.int(0, 255))),
        Buffer.from("\u0000".repeat(64)),
      ]);
    }
    return { method, action, pairs, ...(rawBody ? { rawBody } : {}), contentType, auth };
  }
}
