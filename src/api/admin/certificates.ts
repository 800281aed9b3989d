/**
 * The admin JSON API of the certificate store. A certificate is stored under its ARN — the
 * IAM-style one an upload gets, or an ACM/IAM ARN given with the upload — and the routes address
 * it by its unique name. The private key goes in and never comes out.
 *
 *   GET    /admin/v1/certificates          → { certificates: PublicCertificate[] }
 *   GET    /admin/v1/certificates/{name}   → { certificate: PublicCertificate }
 *   PUT    /admin/v1/certificates/{name}   { certificateBody, privateKey, certificateChain?, arn? }
 *                                          → { certificate: PublicCertificate }
 *   DELETE /admin/v1/certificates/{name}   → { deleted: arn }  (409 while a listener uses it)
 *
 * A PUT over an existing name replaces it in place (certificate rotation): listeners name the
 * ARN, which stays the same, so they pick the new certificate up with the next revision.
 */
import {
  certificateArn,
  publicCertificate,
  validateCertificateName,
  validateCertificateUpload,
} from "../../model/certificates.js";
import { BallastError } from "../../model/errors.js";
import type { Store } from "../../store/store.js";
import { ADMIN_PREFIX, type AdminCall, type Json, jsonObject } from "./common.js";

export const CERTIFICATES_PREFIX = `${ADMIN_PREFIX}/certificates`;

export type CertificateRequest = AdminCall;

export function isCertificatesPath(path: string): boolean {
  return path === CERTIFICATES_PREFIX || path.startsWith(`${CERTIFICATES_PREFIX}/`);
}

export function createCertificateRoutes(opts: {
  readonly store: Store;
  readonly now?: () => Date;
}): (req: CertificateRequest) => Promise<Json> {
  const now = opts.now ?? (() => new Date());
  const { store } = opts;

  return async (req) => {
    const name = routeName(req.path);
    if (name === undefined) {
      if (req.method === "GET")
        return { certificates: (await store.list("certificate")).map((c) => publicCertificate(c.doc)) };
    } else if (req.method === "GET") {
      const found = (await store.list("certificate")).find((c) => c.doc.name === name);
      if (!found) throw notFound(name);
      return { certificate: publicCertificate(found.doc) };
    } else if (req.method === "PUT") {
      const certificate = validateCertificateUpload({ name, ...parseUpload(req.body) }, now().toISOString());
      await store.mutate({ ...req.meta, action: "PutCertificate" }, async (tx) => {
        const same = (await tx.list("certificate")).find((c) => c.name === name);
        // Rotation keeps the ARN listeners name; a new ARN for a name in use would orphan them.
        if (same && same.arn !== certificate.arn)
          throw new BallastError(
            "InvalidConfigurationRequest",
            `Certificate ${name} is stored under ${same.arn}; delete it first to store it under ${certificate.arn}`,
          );
        tx.put("certificate", certificate.arn, certificate);
      });
      return { certificate: publicCertificate(certificate) };
    } else if (req.method === "DELETE") {
      let arn = certificateArn(name);
      await store.mutate({ ...req.meta, action: "DeleteCertificate" }, async (tx) => {
        const found = (await tx.list("certificate")).find((c) => c.name === name);
        if (!found) throw notFound(name);
        arn = found.arn;
        // Removal is explicit (design principle 3): a listener never loses its certificate by inference.
        const users = (await tx.list("loadBalancer")).flatMap((lb) =>
          lb.listeners
            .filter((l) => l.sslCertificateId === arn)
            .map((l) => `${lb.name}:${l.loadBalancerPort}`),
        );
        if (users.length > 0)
          throw new BallastError(
            "InvalidConfigurationRequest",
            `Certificate ${name} is in use by the listeners ${users.join(", ")}; change or delete them first`,
          );
        tx.delete("certificate", arn);
      });
      return { deleted: arn };
    }
    throw new BallastError("NotFound", `No route for ${req.method} ${req.path}`);
  };
}

function notFound(name: string): BallastError {
  return new BallastError("NotFound", `There is no certificate named ${name}`);
}

/** undefined for the collection, the decoded certificate name for one certificate. */
function routeName(path: string): string | undefined {
  const rest = path.slice(CERTIFICATES_PREFIX.length + 1);
  if (rest === "") return undefined;
  if (rest.includes("/")) throw new BallastError("NotFound", `No such resource: ${path}`);
  let name: string;
  try {
    name = decodeURIComponent(rest);
  } catch {
    throw new BallastError("ValidationError", "The certificate name is not valid percent-encoding");
  }
  return validateCertificateName(name);
}

function parseUpload(body: Buffer): {
  certificateBody: string;
  privateKey: string;
  certificateChain?: string;
  arn?: string;
} {
  const { certificateBody, privateKey, certificateChain, arn } = jsonObject(
    body,
    "{certificateBody, privateKey, certificateChain?}",
  );
  if (typeof certificateBody !== "string" || certificateBody === "")
    throw new BallastError("ValidationError", "certificateBody is required: a PEM-encoded certificate");
  if (typeof privateKey !== "string" || privateKey === "")
    throw new BallastError("ValidationError", "privateKey is required: a PEM-encoded private key");
  if (certificateChain !== undefined && typeof certificateChain !== "string")
    throw new BallastError(
      "ValidationError",
      "certificateChain, when given, is a string of PEM certificates",
    );
  if (arn !== undefined && typeof arn !== "string")
    throw new BallastError("ValidationError", "arn, when given, is an IAM or ACM certificate ARN");
  return {
    certificateBody,
    privateKey,
    ...(certificateChain === undefined ? {} : { certificateChain }),
    ...(arn === undefined ? {} : { arn }),
  };
}
