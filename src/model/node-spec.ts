/**
 * The resolved data-plane spec: what one load balancer's node on an agent runs, in the
 * vocabulary of a data plane rather than of the ELB API. Envoy's listener → route → cluster →
 * endpoint is the model: a `ListenerSpec` says how clients are accepted (TLS context, idle
 * timeout, desync mode, stickiness) and names its `UpstreamSpec` (the instance port, protocol,
 * Proxy Protocol and back-end authentication), whose endpoints are the node's `Backend`s.
 *
 * Every field is required and every default is already applied (see `resolve-node.ts`): the
 * proxy executes this document and interprets no policy. A new data-plane feature is one more
 * field here and one more step in the resolver, not a change across the proxy.
 */
import type { DesyncMitigationMode } from "./attributes.js";

export type { DesyncMitigationMode };

import type { TlsVersion } from "./ssl-policies.js";
import type { Protocol } from "./types.js";

/** The document format an agent writes to disk and a control plane sends (1: raw policies). */
export const NODE_SPEC_FORMAT = 2;

/** One registered instance as the data plane reaches it: an endpoint of the node's upstreams. */
export interface Backend {
  readonly instanceId: string;
  readonly address: string;
  readonly zone: string;
}

/** BackendServerAuthentication: the back end's certificate must carry one of these keys. */
export interface BackendAuthentication {
  /** Base64 DER SubjectPublicKeyInfo of each accepted key, deduplicated, in policy order. */
  readonly publicKeys: readonly string[];
}

export interface HealthCheckSpec {
  readonly protocol: Protocol;
  readonly port: number;
  /** The ping path for HTTP and HTTPS checks; "" for TCP and SSL. */
  readonly path: string;
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** SSL and HTTPS checks: the authentication set on the target's port; otherwise null. */
  readonly authentication: BackendAuthentication | null;
}

/** Where a listener sends its traffic: the cluster of Envoy's vocabulary. */
export interface UpstreamSpec {
  /** The instance port. */
  readonly port: number;
  readonly protocol: Protocol;
  /** Connections to back ends are TLS (instance protocol HTTPS or SSL). */
  readonly tls: boolean;
  /** TCP/SSL listeners open each back-end connection with a Proxy Protocol v1 line. */
  readonly proxyProtocol: boolean;
  /** TLS back ends: null accepts any certificate, as ELB does without the policy. */
  readonly authentication: BackendAuthentication | null;
}

/** The client side of an HTTPS or SSL listener. */
export interface TlsContextSpec {
  readonly certificateArn: string;
  /** The certificate, then its chain, PEM. */
  readonly certificatePem: string;
  readonly privateKey: string;
  /** The SSLNegotiationPolicyType policy in force (or ELB's default security policy). */
  readonly policyName: string;
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list. */
  readonly ciphers: string;
  readonly honorCipherOrder: boolean;
  /** What of the policy cannot be honoured exactly, for the agent's log. */
  readonly caveats: readonly string[];
}

/** A listener that should terminate TLS but cannot: it is reported unbound, with this reason. */
export interface UnusableTls {
  readonly unusable: string;
}

export type Stickiness =
  | { readonly kind: "none" }
  /** LBCookieStickinessPolicyType: the node's own `AWSELB` cookie; null max age: a session cookie. */
  | { readonly kind: "lb-cookie"; readonly maxAgeSeconds: number | null }
  /** AppCookieStickinessPolicyType: follows the application's cookie. */
  | { readonly kind: "app-cookie"; readonly cookieName: string };

/**
 * How a listener is served: `http` parses requests (HTTP and HTTPS front ends), `tcp` relays
 * bytes (TCP and SSL), `unsupported` is a combination ELB does not have (reported unbound).
 */
export type ListenerEngine = "http" | "tcp" | "unsupported";

export interface ListenerSpec {
  readonly port: number;
  readonly protocol: Protocol;
  readonly engine: ListenerEngine;
  readonly idleTimeoutSeconds: number;
  /** HTTP engine: how requests that are not RFC-compliant are treated. */
  readonly desyncMode: DesyncMitigationMode;
  readonly stickiness: Stickiness;
  /** HTTPS and SSL: the context, or why there is none; HTTP and TCP: null. */
  readonly tls: TlsContextSpec | UnusableTls | null;
  readonly upstream: UpstreamSpec;
}

export interface DrainingSpec {
  readonly enabled: boolean;
  readonly timeoutSeconds: number;
}

export interface AccessLogSpec {
  readonly enabled: boolean;
  /** Minutes between log files: 5 or 60. */
  readonly emitIntervalMinutes: number;
  /** Names the files as ELB's S3 keys do; "" when unset. */
  readonly s3BucketName: string;
  readonly s3BucketPrefix: string;
}

/** One load balancer's node on an agent, fully resolved. */
export interface NodeSpec {
  readonly name: string;
  /** The journal revision of the load balancer this spec was compiled from. */
  readonly revision: number;
  readonly dnsName: string;
  /** Route to every zone's back ends (true) or only to the node's own zone's. */
  readonly crossZone: boolean;
  readonly draining: DrainingSpec;
  readonly accessLog: AccessLogSpec;
  readonly healthCheck: HealthCheckSpec;
  readonly listeners: readonly ListenerSpec[];
  readonly backends: readonly Backend[];
}

export function isUsableTls(tls: ListenerSpec["tls"]): tls is TlsContextSpec {
  return tls !== null && !("unusable" in tls);
}

/**
 * Why `v` is not a NodeSpec an agent can run, or null when it is: every field present with its
 * type, as a document crossing from the control plane must be checked before anything of it is
 * applied or written to disk (a malformed document is refused whole).
 */
export function nodeSpecProblem(v: unknown): string | null {
  const o = obj(v);
  if (o === null) return "a load balancer is not an object";
  const name = typeof o.name === "string" && o.name !== "" ? o.name : null;
  if (name === null) return "a load balancer has no name";
  const at = (what: string) => `load balancer ${name}: ${what}`;
  if (!isCount(o.revision) || typeof o.dnsName !== "string" || typeof o.crossZone !== "boolean")
    return at("revision, dnsName or crossZone missing");
  const d = obj(o.draining);
  if (d === null || typeof d.enabled !== "boolean" || !isCount(d.timeoutSeconds)) return at("bad draining");
  const a = obj(o.accessLog);
  if (
    a === null ||
    typeof a.enabled !== "boolean" ||
    !isCount(a.emitIntervalMinutes) ||
    typeof a.s3BucketName !== "string" ||
    typeof a.s3BucketPrefix !== "string"
  )
    return at("bad accessLog");
  const h = obj(o.healthCheck);
  if (
    h === null ||
    !isProtocol(h.protocol) ||
    !isPort(h.port) ||
    typeof h.path !== "string" ||
    !isPositive(h.intervalSeconds) ||
    !isPositive(h.timeoutSeconds) ||
    !isCount(h.unhealthyThreshold) ||
    !isCount(h.healthyThreshold) ||
    !isAuthentication(h.authentication)
  )
    return at("bad healthCheck");
  if (!Array.isArray(o.backends) || !o.backends.every(isBackend)) return at("bad backends");
  if (!Array.isArray(o.listeners)) return at("no listeners list");
  for (const l of o.listeners as unknown[]) {
    const problem = listenerProblem(l);
    if (problem !== null) return at(problem);
  }
  return null;
}

function listenerProblem(v: unknown): string | null {
  const l = obj(v);
  if (l === null || !isPort(l.port)) return "a listener has no port";
  const at = (what: string) => `listener ${String(l.port)}: ${what}`;
  if (!isProtocol(l.protocol) || !["http", "tcp", "unsupported"].includes(String(l.engine)))
    return at("bad protocol or engine");
  if (
    !isPositive(l.idleTimeoutSeconds) ||
    !["monitor", "defensive", "strictest"].includes(String(l.desyncMode))
  )
    return at("bad idle timeout or desync mode");
  const s = obj(l.stickiness);
  const stickinessOk =
    s !== null &&
    (s.kind === "none" ||
      (s.kind === "lb-cookie" && (s.maxAgeSeconds === null || isPositive(s.maxAgeSeconds))) ||
      (s.kind === "app-cookie" && typeof s.cookieName === "string" && s.cookieName !== ""));
  if (!stickinessOk) return at("bad stickiness");
  const t = l.tls === null ? null : obj(l.tls);
  if (l.tls !== null) {
    const tlsOk =
      t !== null &&
      (typeof t.unusable === "string" ||
        (typeof t.certificatePem === "string" &&
          typeof t.privateKey === "string" &&
          typeof t.ciphers === "string" &&
          typeof t.minVersion === "string" &&
          typeof t.maxVersion === "string" &&
          typeof t.honorCipherOrder === "boolean"));
    if (!tlsOk) return at("bad tls");
  }
  const u = obj(l.upstream);
  if (
    u === null ||
    !isPort(u.port) ||
    !isProtocol(u.protocol) ||
    typeof u.tls !== "boolean" ||
    typeof u.proxyProtocol !== "boolean" ||
    !isAuthentication(u.authentication)
  )
    return at("bad upstream");
  return null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}
function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
function isPositive(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}
function isPort(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;
}
function isProtocol(v: unknown): boolean {
  return v === "HTTP" || v === "HTTPS" || v === "TCP" || v === "SSL";
}
function isAuthentication(v: unknown): boolean {
  if (v === null) return true;
  const a = obj(v);
  return a !== null && Array.isArray(a.publicKeys) && a.publicKeys.every((k) => typeof k === "string");
}
function isBackend(v: unknown): boolean {
  const b = obj(v);
  return (
    b !== null &&
    typeof b.instanceId === "string" &&
    typeof b.address === "string" &&
    typeof b.zone === "string"
  );
}
