/** The client side of an HTTPS or SSL listener, as Node's TLS server takes it. */
import type { SecureContextOptions } from "node:tls";
import type { TlsContextSpec } from "../model/node-spec.js";

export interface ListenerTls {
  /** What `tls.createServer` and `server.setSecureContext` take. */
  readonly context: SecureContextOptions;
  /** Identifies the certificate, key and options: a re-apply with the same one changes nothing. */
  readonly identity: string;
}

export function listenerTls(spec: TlsContextSpec): ListenerTls {
  const context: SecureContextOptions = {
    cert: spec.certificatePem,
    key: spec.privateKey,
    minVersion: spec.minVersion,
    maxVersion: spec.maxVersion,
    ciphers: spec.ciphers,
    honorCipherOrder: spec.honorCipherOrder,
  };
  const identity = JSON.stringify([
    spec.certificatePem,
    spec.privateKey,
    spec.minVersion,
    spec.maxVersion,
    spec.ciphers,
    spec.honorCipherOrder,
  ]);
  return { context, identity };
}
