/**
 * Validation of ELB 2012-06-01 inputs, pure: every rule either returns a typed value or throws a
 * BallastError with the code AWS answers with. Messages follow what the service sends on the wire
 * (see the notes at each rule); constraint violations of modelled members use the Coral wording
 * "N validation error(s) detected: Value … at '…' failed to satisfy constraint: …", which is what
 * AWS Query services answer for missing required members (e.g. chilts/awssum#124:
 * "1 validation error detected: Value null at 'availabilityZones' failed to satisfy constraint:
 * Member must not be null").
 */
import { BallastError } from "./errors.js";
import { type HealthCheck, type Listener, PROTOCOLS, type Protocol, type Scheme, type Tag } from "./types.js";

/** Collects constraint violations so one response names all of them, as AWS does. */
export class Violations {
  readonly #messages: string[] = [];

  notNull<T>(value: T | undefined, member: string): value is T {
    if (value !== undefined) return true;
    this.#messages.push(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    return false;
  }

  range(value: number | undefined, member: string, min: number, max: number): void {
    if (value === undefined) return;
    if (value < min)
      this.#messages.push(
        `Value '${value}' at '${member}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`,
      );
    else if (value > max)
      this.#messages.push(
        `Value '${value}' at '${member}' failed to satisfy constraint: Member must have value less than or equal to ${max}`,
      );
  }

  length(value: string | undefined, member: string, min: number, max: number): void {
    if (value === undefined) return;
    if (value.length < min)
      this.#messages.push(
        `Value '${value}' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`,
      );
    else if (value.length > max)
      this.#messages.push(
        `Value '${value}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      );
  }

  add(message: string): void {
    this.#messages.push(message);
  }

  throwIfAny(): void {
    const n = this.#messages.length;
    if (n === 0) return;
    const head = `${n} validation error${n === 1 ? "" : "s"} detected: `;
    throw new BallastError("ValidationError", head + this.#messages.join("; "));
  }
}

/** Throws the Coral "Member must not be null" ValidationError for each missing required member. */
export function requireMembers(members: Readonly<Record<string, unknown>>): void {
  const v = new Violations();
  for (const [member, value] of Object.entries(members)) v.notNull(value, member);
  v.throwIfAny();
}

const NAME_CHARS = /^[A-Za-z0-9-]+$/;

/**
 * Name rules from the CreateLoadBalancer docs. Wire messages as AWS sends them:
 * "LoadBalancer name cannot be longer than 32 characters" (ansible-collections/amazon.aws#406),
 * "LoadBalancer name cannot contain characters that are not letters, or digits or the dash."
 * (ansible/ansible#68790).
 */
export function validateLoadBalancerName(name: string): string {
  if (name.length === 0) throw new BallastError("ValidationError", "LoadBalancer name cannot be empty");
  if (name.length > 32)
    throw new BallastError("ValidationError", "LoadBalancer name cannot be longer than 32 characters");
  if (!NAME_CHARS.test(name))
    throw new BallastError(
      "ValidationError",
      "LoadBalancer name cannot contain characters that are not letters, or digits or the dash.",
    );
  if (name.startsWith("-") || name.endsWith("-"))
    throw new BallastError("ValidationError", "LoadBalancer name cannot begin or end with a hyphen");
  return name;
}

export interface ListenerInput {
  readonly protocol?: string;
  readonly loadBalancerPort?: number;
  readonly instanceProtocol?: string;
  readonly instancePort?: number;
  readonly sslCertificateId?: string;
}

function parseProtocol(value: string, what: string): Protocol {
  const upper = value.toUpperCase();
  const found = PROTOCOLS.find((p) => p === upper);
  if (!found) throw new BallastError("ValidationError", `Invalid ${what} protocol: ${value}`);
  return found;
}

const LAYER: Record<Protocol, "http" | "tcp"> = { HTTP: "http", HTTPS: "http", TCP: "tcp", SSL: "tcp" };

/** Without an InstanceProtocol the back end speaks the unencrypted protocol of the front end's layer. */
export function defaultInstanceProtocol(protocol: Protocol): Protocol {
  return LAYER[protocol] === "http" ? "HTTP" : "TCP";
}

/**
 * Listeners of CreateLoadBalancer. Protocols are case-insensitive on the wire and stored upper
 * case, as DescribeLoadBalancers reports them. The SSL certificate is checked by the caller (it
 * needs a certificate store); this only requires one for HTTPS and SSL front ends.
 */
export function validateListeners(inputs: readonly ListenerInput[]): Listener[] {
  if (inputs.length === 0) requireMembers({ listeners: undefined });
  const v = new Violations();
  inputs.forEach((l, i) => {
    const at = `listeners.${i + 1}.member`;
    v.notNull(l.protocol, `${at}.protocol`);
    v.notNull(l.loadBalancerPort, `${at}.loadBalancerPort`);
    v.notNull(l.instancePort, `${at}.instancePort`);
    v.range(l.loadBalancerPort, `${at}.loadBalancerPort`, 1, 65535);
    v.range(l.instancePort, `${at}.instancePort`, 1, 65535);
  });
  v.throwIfAny();

  const listeners: Listener[] = [];
  const ports = new Set<number>();
  for (const l of inputs) {
    const protocol = parseProtocol(l.protocol ?? "", "LoadBalancer");
    const instanceProtocol =
      l.instanceProtocol === undefined
        ? defaultInstanceProtocol(protocol)
        : parseProtocol(l.instanceProtocol, "Instance");
    if (LAYER[protocol] !== LAYER[instanceProtocol])
      throw new BallastError(
        "ValidationError",
        `Listener protocol '${protocol}' and instance protocol '${instanceProtocol}' are not compatible`,
      );
    const loadBalancerPort = l.loadBalancerPort ?? 0;
    if (ports.has(loadBalancerPort))
      throw new BallastError("DuplicateListener", `A listener already exists for port ${loadBalancerPort}`);
    ports.add(loadBalancerPort);
    const secure = protocol === "HTTPS" || protocol === "SSL";
    if (secure && !l.sslCertificateId)
      throw new BallastError(
        "ValidationError",
        `A SSLCertificateId is required for the ${protocol} listener on port ${loadBalancerPort}`,
      );
    listeners.push({
      protocol,
      loadBalancerPort,
      instanceProtocol,
      instancePort: l.instancePort ?? 0,
      ...(l.sslCertificateId ? { sslCertificateId: l.sslCertificateId } : {}),
    });
  }
  return listeners;
}

export interface HealthCheckTarget {
  readonly protocol: Protocol;
  readonly port: number;
  /** For HTTP and HTTPS: the ping path, starting with `/`. */
  readonly path?: string;
}

const TARGET = /^(HTTP|HTTPS|TCP|SSL):(\d{1,5})(\/.*)?$/i;

/** `HTTP:80/path`, `HTTPS:443/path`, `TCP:80`, `SSL:443` (HealthCheck.Target in the service docs). */
export function parseHealthCheckTarget(target: string): HealthCheckTarget {
  const m = TARGET.exec(target);
  const protocol = m?.[1]?.toUpperCase() as Protocol | undefined;
  const port = Number(m?.[2]);
  const path = m?.[3];
  if (!m || !protocol) throw new BallastError("ValidationError", `Invalid HealthCheck Target: ${target}`);
  if (!(port >= 1 && port <= 65535))
    throw new BallastError(
      "ValidationError",
      `HealthCheck Target port must be between 1 and 65535: ${target}`,
    );
  const http = protocol === "HTTP" || protocol === "HTTPS";
  if (http && !path)
    throw new BallastError(
      "ValidationError",
      `HealthCheck ${protocol} Target must specify a ping path: ${target}`,
    );
  if (!http && path)
    throw new BallastError(
      "ValidationError",
      `HealthCheck ${protocol} Target must not specify a path: ${target}`,
    );
  if (target.length > 1024)
    throw new BallastError("ValidationError", "HealthCheck Target must be at most 1024 characters");
  return http ? { protocol, port, path: path ?? "/" } : { protocol, port };
}

export interface HealthCheckInput {
  readonly target?: string;
  readonly interval?: number;
  readonly timeout?: number;
  readonly unhealthyThreshold?: number;
  readonly healthyThreshold?: number;
}

/** ConfigureHealthCheck: every member required, ranges from the service model, Timeout < Interval. */
export function validateHealthCheck(input: HealthCheckInput | undefined): HealthCheck {
  if (input === undefined) requireMembers({ healthCheck: undefined });
  const h = input ?? {};
  const v = new Violations();
  v.notNull(h.target, "healthCheck.target");
  v.notNull(h.interval, "healthCheck.interval");
  v.notNull(h.timeout, "healthCheck.timeout");
  v.notNull(h.unhealthyThreshold, "healthCheck.unhealthyThreshold");
  v.notNull(h.healthyThreshold, "healthCheck.healthyThreshold");
  v.range(h.interval, "healthCheck.interval", 5, 300);
  v.range(h.timeout, "healthCheck.timeout", 2, 60);
  v.range(h.unhealthyThreshold, "healthCheck.unhealthyThreshold", 2, 10);
  v.range(h.healthyThreshold, "healthCheck.healthyThreshold", 2, 10);
  v.throwIfAny();
  const interval = h.interval ?? 0;
  const timeout = h.timeout ?? 0;
  if (timeout >= interval)
    throw new BallastError("ValidationError", "HealthCheck Timeout must be less than Interval");
  const target = h.target ?? "";
  const parsed = parseHealthCheckTarget(target);
  const normalized = `${parsed.protocol}:${parsed.port}${parsed.path ?? ""}`;
  return {
    target: normalized,
    interval,
    timeout,
    unhealthyThreshold: h.unhealthyThreshold ?? 0,
    healthyThreshold: h.healthyThreshold ?? 0,
  };
}

export interface TagInput {
  readonly key?: string;
  readonly value?: string;
}

/** Tag pattern of the service model: letters, separators, numbers and `_.:/=+-@`. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
export const MAX_TAGS = 10;

export function validateTags(inputs: readonly TagInput[]): Tag[] {
  const v = new Violations();
  inputs.forEach((t, i) => {
    const at = `tags.${i + 1}.member`;
    v.notNull(t.key, `${at}.key`);
    v.length(t.key, `${at}.key`, 1, 128);
    v.length(t.value, `${at}.value`, 0, 256);
    if (t.key !== undefined && !TAG_TEXT.test(t.key))
      v.add(
        `Value '${t.key}' at '${at}.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`,
      );
    if (t.value !== undefined && !TAG_TEXT.test(t.value))
      v.add(
        `Value '${t.value}' at '${at}.value' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`,
      );
  });
  v.throwIfAny();
  if (inputs.length > MAX_TAGS)
    throw new BallastError("TooManyTags", `Too many tags: a load balancer can have at most ${MAX_TAGS} tags`);
  const seen = new Set<string>();
  const tags: Tag[] = [];
  for (const t of inputs) {
    const key = t.key ?? "";
    if (seen.has(key)) throw new BallastError("DuplicateTagKeys", `Duplicate tag key: ${key}`);
    seen.add(key);
    tags.push(t.value === undefined ? { key } : { key, value: t.value });
  }
  return tags;
}

export function validateScheme(value: string | undefined): Scheme {
  if (value === undefined || value === "internet-facing") return "internet-facing";
  if (value === "internal") return "internal";
  throw new BallastError(
    "InvalidScheme",
    `Invalid scheme: ${value}. Valid values are internet-facing and internal`,
  );
}

/** PageSize of DescribeLoadBalancers: 1–400, default 400. */
export function validatePageSize(value: number | undefined): number {
  const v = new Violations();
  v.range(value, "pageSize", 1, 400);
  v.throwIfAny();
  return value ?? 400;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}
