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
