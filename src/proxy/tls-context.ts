/**
 * The TLS side of an HTTPS or SSL listener: its certificate (from the spec's certificates, by
 * the listener's ARN) and its negotiation options (from the listener's SSLNegotiationPolicyType
 * policy, or ELB's default security policy when it names none).
 */
import type { SecureContextOptions } from "node:tls";
import type { NodeLoadBalancer } from "../model/agent-protocol.js";
import { DEFAULT_SECURITY_POLICY, predefinedPolicy, tlsOptionsFor } from "../model/ssl-policies.js";
import type { Listener } from "../model/types.js";

export interface ListenerTls {
  /** What `tls.createServer` and `server.setSecureContext` take. */
  readonly context: SecureContextOptions;
  /** Identifies the certificate, key and options: a re-apply with the same one changes nothing. */
  readonly identity: string;
  /** Policy attributes Ballast cannot honour exactly, for the log. */
  readonly caveats: readonly string[];
}

/** The listener's TLS context, or the reason it cannot have one (the listener stays unbound). */
export function listenerTls(spec: NodeLoadBalancer, l: Listener): ListenerTls | string {
  const arn = l.sslCertificateId;
  if (arn === undefined || arn === "") return "the listener names no certificate";
  const cert = spec.certificates?.find((c) => c.arn === arn);
  if (cert === undefined) return `certificate ${arn} is not in the load balancer's spec`;
  const names = new Set(l.policyNames ?? []);
  const policy = spec.policies?.find(
    (p) => names.has(p.policyName) && p.policyTypeName === "SSLNegotiationPolicyType",
  );
  const attributes = policy?.attributes ?? predefinedPolicy(DEFAULT_SECURITY_POLICY)?.attributes ?? [];
  let options: ReturnType<typeof tlsOptionsFor>;
  try {
    options = tlsOptionsFor(attributes);
  } catch (err) {
    return `policy ${policy?.policyName ?? DEFAULT_SECURITY_POLICY} is unusable: ${String(err)}`;
  }
  const chain = cert.certificateChain ?? "";
  const certPem = chain.trim() === "" ? cert.certificateBody : `${cert.certificateBody.trimEnd()}\n${chain}`;
  const context: SecureContextOptions = {
    cert: certPem,
    key: cert.privateKey,
    minVersion: options.minVersion,
    maxVersion: options.maxVersion,
    ciphers: options.ciphers,
    honorCipherOrder: options.honorCipherOrder,
  };
  const identity = JSON.stringify([
    certPem,
    cert.privateKey,
    options.minVersion,
    options.maxVersion,
    options.ciphers,
    options.honorCipherOrder,
  ]);
  return { context, identity, caveats: options.caveats };
}
