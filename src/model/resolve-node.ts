/**
 * The one place where the ELB API's words become the data plane's: policies are looked up by
 * name and interpreted, attributes get their defaults, the health-check target is parsed. The
 * compiler calls it for every node it sends; an agent calls it once for a last-known-good file of
 * format 1 (which stored the raw form) so an upgraded agent keeps serving across the upgrade.
 */
import { desyncMitigationMode, loadBalancerAttributes } from "./attributes.js";
import type {
  AccessLogSpec,
  Backend,
  BackendAuthentication,
  HealthCheckSpec,
  ListenerEngine,
  ListenerSpec,
  NodeSpec,
  Stickiness,
  TlsContextSpec,
  UnusableTls,
} from "./node-spec.js";
import { parsePublicKey } from "./public-keys.js";
import { DEFAULT_SECURITY_POLICY, predefinedPolicy, tlsOptionsFor } from "./ssl-policies.js";
import type {
  BackendServerPolicies,
  HealthCheck,
  Listener,
  LoadBalancerAttributes,
  LoadBalancerPolicy,
  Protocol,
} from "./types.js";
import { parseHealthCheckTarget } from "./validate.js";

/** A server certificate an HTTPS/SSL listener names, with its key. */
export interface CertificateSource {
  readonly arn: string;
  readonly certificateBody: string;
  readonly privateKey: string;
  readonly certificateChain?: string;
}

/**
 * A load balancer in the API's words, with its back ends and certificates looked up: the
 * resolver's input, and the node document of format 1 as agents stored it.
 */
export interface NodeSource {
  readonly name: string;
  readonly revision: number;
  readonly dnsName: string;
  readonly listeners: readonly Listener[];
  readonly healthCheck: HealthCheck;
  readonly backends: readonly Backend[];
  readonly attributes?: LoadBalancerAttributes;
  readonly policies?: readonly LoadBalancerPolicy[];
  readonly backendServerPolicies?: readonly BackendServerPolicies[];
  readonly certificates?: readonly CertificateSource[];
}

export function resolveNode(src: NodeSource): NodeSpec {
  const attributes = loadBalancerAttributes(src);
  const policies = new PolicyIndex(src.policies ?? [], src.backendServerPolicies ?? []);
  const desyncMode = desyncMitigationMode(attributes);
  const idleTimeoutSeconds = attributes.connectionSettings.idleTimeout;
  const listeners = src.listeners.map(
    (l): ListenerSpec => ({
      port: l.loadBalancerPort,
      protocol: l.protocol,
      engine: engineOf(l),
      idleTimeoutSeconds,
      desyncMode,
      stickiness: policies.stickiness(l),
      tls: l.protocol === "HTTPS" || l.protocol === "SSL" ? tlsContext(src, l, policies) : null,
      upstream: {
        port: l.instancePort,
        protocol: l.instanceProtocol,
        tls: l.instanceProtocol === "HTTPS" || l.instanceProtocol === "SSL",
        proxyProtocol: policies.proxyProtocol(l.instancePort),
        authentication: policies.authentication(l.instancePort),
      },
    }),
  );
  return {
    name: src.name,
    revision: src.revision,
    dnsName: src.dnsName,
    crossZone: attributes.crossZoneLoadBalancing.enabled,
    draining: {
      enabled: attributes.connectionDraining.enabled,
      timeoutSeconds: attributes.connectionDraining.timeout,
    },
    accessLog: accessLog(attributes),
    healthCheck: healthCheck(src, policies),
    listeners,
    backends: src.backends.map((b) => ({ instanceId: b.instanceId, address: b.address, zone: b.zone })),
  };
}

/** HTTP and HTTPS front ends parse requests; TCP and SSL relay bytes; a layer-7 front end needs a layer-7 back end. */
function engineOf(l: Listener): ListenerEngine {
  const httpBack = l.instanceProtocol === "HTTP" || l.instanceProtocol === "HTTPS";
  if (l.protocol === "HTTP" || l.protocol === "HTTPS") return httpBack ? "http" : "unsupported";
  return httpBack ? "unsupported" : "tcp";
}

function accessLog(attributes: LoadBalancerAttributes): AccessLogSpec {
  const a = attributes.accessLog;
  return {
    enabled: a.enabled,
    emitIntervalMinutes: a.emitInterval,
    s3BucketName: a.s3BucketName ?? "",
    s3BucketPrefix: a.s3BucketPrefix ?? "",
  };
}

/**
 * The check as stored was validated by the API; a target that does not parse (a damaged
 * document) falls back to ELB's default check, TCP on the first listener's instance port.
 */
function healthCheck(src: NodeSource, policies: PolicyIndex): HealthCheckSpec {
  const hc = src.healthCheck;
  let protocol: Protocol = "TCP";
  let port = src.listeners[0]?.instancePort ?? 80;
  let path = "";
  try {
    const t = parseHealthCheckTarget(hc.target);
    protocol = t.protocol;
    port = t.port;
    path = t.path ?? "";
  } catch {
    // the fallback above
  }
  const tls = protocol === "HTTPS" || protocol === "SSL";
  return {
    protocol,
    port,
    path,
    intervalSeconds: hc.interval,
    timeoutSeconds: hc.timeout,
    unhealthyThreshold: hc.unhealthyThreshold,
    healthyThreshold: hc.healthyThreshold,
    authentication: tls ? policies.authentication(port) : null,
  };
}

function tlsContext(src: NodeSource, l: Listener, policies: PolicyIndex): TlsContextSpec | UnusableTls {
  const arn = l.sslCertificateId;
  if (arn === undefined || arn === "") return { unusable: "the listener names no certificate" };
  const cert = src.certificates?.find((c) => c.arn === arn);
  if (cert === undefined) return { unusable: `certificate ${arn} is not in the load balancer's spec` };
  const policy = policies.listenerPolicy(l, "SSLNegotiationPolicyType");
  const policyName = policy?.policyName ?? DEFAULT_SECURITY_POLICY;
  const attributes = policy?.attributes ?? predefinedPolicy(DEFAULT_SECURITY_POLICY)?.attributes ?? [];
  let options: ReturnType<typeof tlsOptionsFor>;
  try {
    options = tlsOptionsFor(attributes);
  } catch (err) {
    return {
      unusable: `policy ${policyName} is unusable: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const chain = cert.certificateChain ?? "";
  return {
    certificateArn: arn,
    certificatePem:
      chain.trim() === "" ? cert.certificateBody : `${cert.certificateBody.trimEnd()}\n${chain}`,
    privateKey: cert.privateKey,
    policyName,
    minVersion: options.minVersion,
    maxVersion: options.maxVersion,
    ciphers: options.ciphers,
    honorCipherOrder: options.honorCipherOrder,
    caveats: options.caveats,
  };
}

/** A load balancer's policies, looked up by name and by where they are set. */
class PolicyIndex {
  readonly #byName: ReadonlyMap<string, LoadBalancerPolicy>;
  readonly #byInstancePort: ReadonlyMap<number, readonly string[]>;

  constructor(policies: readonly LoadBalancerPolicy[], backendServer: readonly BackendServerPolicies[]) {
    this.#byName = new Map(policies.map((p) => [p.policyName, p]));
    this.#byInstancePort = new Map(backendServer.map((b) => [b.instancePort, b.policyNames]));
  }

  /** The first policy of `type` among the listener's, in the order they were set. */
  listenerPolicy(l: Listener, type: string): LoadBalancerPolicy | undefined {
    for (const name of l.policyNames ?? []) {
      const p = this.#byName.get(name);
      if (p?.policyTypeName === type) return p;
    }
    return undefined;
  }

  stickiness(l: Listener): Stickiness {
    for (const name of l.policyNames ?? []) {
      const p = this.#byName.get(name);
      if (p?.policyTypeName === "LBCookieStickinessPolicyType") {
        const period = attribute(p, "CookieExpirationPeriod");
        const n = period === undefined || period === "" ? Number.NaN : Number(period);
        return { kind: "lb-cookie", maxAgeSeconds: Number.isFinite(n) && n > 0 ? n : null };
      }
      if (p?.policyTypeName === "AppCookieStickinessPolicyType") {
        const cookieName = attribute(p, "CookieName");
        if (cookieName) return { kind: "app-cookie", cookieName };
      }
    }
    return { kind: "none" };
  }

  /** The policies set on an instance port (SetLoadBalancerPoliciesForBackendServer), in order. */
  #backendServer(instancePort: number): LoadBalancerPolicy[] {
    const out: LoadBalancerPolicy[] = [];
    for (const name of this.#byInstancePort.get(instancePort) ?? []) {
      const p = this.#byName.get(name);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  proxyProtocol(instancePort: number): boolean {
    return this.#backendServer(instancePort).some(
      (p) =>
        p.policyTypeName === "ProxyProtocolPolicyType" &&
        attribute(p, "ProxyProtocol")?.toLowerCase() === "true",
    );
  }

  /**
   * The keys BackendServerAuthentication on the port accepts, or null when it is not set. Keys
   * that do not parse and names that are not PublicKeyPolicyType policies are left out: a
   * policy left with no key refuses every back end rather than letting them all through.
   */
  authentication(instancePort: number): BackendAuthentication | null {
    const auth = this.#backendServer(instancePort).filter(
      (p) => p.policyTypeName === "BackendServerAuthenticationPolicyType",
    );
    if (auth.length === 0) return null;
    const publicKeys: string[] = [];
    for (const p of auth) {
      for (const a of p.attributes) {
        if (a.name !== "PublicKeyPolicyName") continue;
        const pk = this.#byName.get(a.value);
        if (pk?.policyTypeName !== "PublicKeyPolicyType") continue;
        for (const k of pk.attributes) {
          if (k.name !== "PublicKey") continue;
          const der = parsePublicKey(k.value)?.toString("base64");
          if (der !== undefined && !publicKeys.includes(der)) publicKeys.push(der);
        }
      }
    }
    return { publicKeys };
  }
}

function attribute(p: LoadBalancerPolicy, name: string): string | undefined {
  return p.attributes.find((a) => a.name === name)?.value;
}
