/**
 * BackendServerAuthentication, as Classic ELB does it: TLS connections to back ends succeed only
 * when the back end's certificate carries one of the spec's public keys (resolved from the
 * policies by the control plane); without it, back-end certificates are not checked at all.
 *
 * The check runs after the handshake: `checkServerIdentity` is not usable for it, since Node
 * calls it only for certificates that chain to a trusted CA, and back ends' are usually self-signed.
 */
import { X509Certificate } from "node:crypto";
import {
  type ConnectionOptions,
  type PeerCertificate,
  type TLSSocket,
  connect as tlsConnect,
} from "node:tls";
import type { BackendAuthentication } from "../model/node-spec.js";

/** The public keys a back end's certificate must match, and the checks against them. */
export interface BackendAuth {
  /** DER SubjectPublicKeyInfo of each accepted key. */
  readonly keys: readonly Buffer[];
  /** Whether the certificate's public key is one of `keys`. */
  check(cert: PeerCertificate | X509Certificate): boolean;
  /** After the handshake: null when the peer's certificate passes, else the error to fail with. */
  verify(socket: TLSSocket): Error | null;
}

/** A back end refused by BackendServerAuthentication. */
export class BackendAuthError extends Error {
  readonly code = "ERR_BACKEND_AUTHENTICATION";
}

class PublicKeyAuth implements BackendAuth {
  readonly keys: readonly Buffer[];

  constructor(keys: readonly Buffer[]) {
    this.keys = keys;
  }

  check(cert: PeerCertificate | X509Certificate): boolean {
    try {
      const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert.raw);
      const spki = x509.publicKey.export({ type: "spki", format: "der" });
      return this.keys.some((k) => k.equals(spki));
    } catch {
      return false;
    }
  }

  verify(socket: TLSSocket): Error | null {
    // Not getPeerX509Certificate(): on Node 20 it leaves the socket without its peer certificate
    // (a second call, and getPeerCertificate(), then find none).
    const cert = socket.getPeerCertificate();
    if (cert.raw === undefined) return new BackendAuthError("the back end presented no certificate");
    if (this.check(cert)) return null;
    return new BackendAuthError("the back end's certificate key is not one of the policy's public keys");
  }
}

/** The check a spec's authentication asks for, or null when it asks for none. */
export function backendAuth(spec: BackendAuthentication | null): BackendAuth | null {
  if (spec === null) return null;
  return new PublicKeyAuth(spec.publicKeys.map((k) => Buffer.from(k, "base64")));
}

/**
 * `tls.connect` to a back end (certificate chain not verified, as ELB does not), then, with
 * `auth`, the public-key check. `done` is called once: with null after a handshake that passes,
 * or with the error (the socket is then destroyed). Shaped like an undici connector's callback.
 */
export function connectBackendTls(
  options: ConnectionOptions,
  auth: BackendAuth | null,
  done: (err: Error | null, socket: TLSSocket) => void,
): TLSSocket {
  const socket = tlsConnect({ ...options, rejectUnauthorized: false });
  let settled = false;
  const finish = (err: Error | null): void => {
    if (settled) return;
    settled = true;
    if (err !== null) socket.destroy();
    done(err, socket);
  };
  socket.once("secureConnect", () => finish(auth === null ? null : auth.verify(socket)));
  socket.on("error", finish);
  socket.once("close", () =>
    finish(new Error("the back end closed the connection during the TLS handshake")),
  );
  return socket;
}
