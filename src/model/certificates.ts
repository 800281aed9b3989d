/**
 * Server certificates for HTTPS/SSL listeners: validation of an upload and the ARN forms a
 * listener's SSLCertificateId may take. Pure: node:crypto parses, nothing here does I/O.
 *
 * A listener names its certificate by ARN, as in AWS: an IAM server certificate
 * (`arn:aws:iam::<account>:server-certificate/<path/>name`) or an ACM certificate
 * (`arn:aws:acm:<region>:<account>:certificate/<uuid>`). An upload through Ballast's admin API
 * gets the IAM form under Ballast's own account id.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { BallastError } from "./errors.js";
import type { Certificate, Listener } from "./types.js";

/** The account every Ballast-issued ARN carries: there is no AWS account behind Ballast. */
export const BALLAST_ACCOUNT_ID = "000000000000";

/** IAM's server-certificate name rule (UploadServerCertificate: `[\w+=,.@-]+`, 1–128). */
const CERTIFICATE_NAME = /^[\w+=,.@-]{1,128}$/;
const PARTITION = "aws(?:-[a-z]+)*";
const IAM_ARN = new RegExp(
  `^arn:${PARTITION}:iam::\\d{12}:server-certificate/(?:[\\x21-\\x7e]+/)?[\\w+=,.@-]{1,128}$`,
);
const ACM_ARN = new RegExp(
  `^arn:${PARTITION}:acm:[a-z]{2}(?:-[a-z]+)+-\\d:\\d{12}:certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`,
);
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface CertificateUpload {
  readonly name: string;
  readonly certificateBody: string;
  readonly privateKey: string;
  readonly certificateChain?: string;
  /**
   * The ARN to store it under, for listeners written against an existing AWS setup: an ACM ARN
   * (`arn:aws:acm:REGION:ACCOUNT:certificate/ID`) or an IAM one. Default: Ballast's IAM-style ARN.
   */
  readonly arn?: string;
}

/** A certificate as it may leave the store: everything but the private key. */
export type PublicCertificate = Omit<Certificate, "privateKey">;

export function validateCertificateName(name: string): string {
  if (!CERTIFICATE_NAME.test(name))
    throw new BallastError(
      "ValidationError",
      `Invalid certificate name '${name}': 1 to 128 letters, digits and the characters _+=,.@-`,
    );
  return name;
}

export function certificateArn(name: string, accountId = BALLAST_ACCOUNT_ID): string {
  return `arn:aws:iam::${accountId}:server-certificate/${validateCertificateName(name)}`;
}

/** Whether an SSLCertificateId has one of the two ARN forms a certificate can be found under. */
export function isCertificateArn(id: string): boolean {
  return IAM_ARN.test(id) || ACM_ARN.test(id);
}

export function certificateNotFound(id: string): BallastError {
  return new BallastError(
    "CertificateNotFound",
    `The specified SSL ID does not refer to a valid SSL certificate: ${id}`,
  );
}

function malformed(message: string): BallastError {
  return new BallastError("MalformedCertificate", message);
}

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw malformed(`Unable to parse ${what}. It must be a PEM-encoded X.509 certificate.`);
  }
}

/**
 * Validates an upload into the stored Certificate: a PEM certificate, an unencrypted PEM private
 * key that belongs to it, and an optional chain of PEM certificates.
 */
export function validateCertificateUpload(upload: CertificateUpload, uploadedTime: string): Certificate {
  const name = validateCertificateName(upload.name);
  const body = upload.certificateBody.trim();
  const blocks = body.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length !== 1 || blocks[0] !== body)
    throw malformed("The certificate body must be exactly one PEM-encoded certificate.");
  const x509 = parseCertificate(body, "the certificate body");
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: upload.privateKey, format: "pem" });
  } catch {
    throw malformed("Unable to parse the private key. It must be an unencrypted PEM-encoded private key.");
  }
  if (!x509.checkPrivateKey(key))
    throw new BallastError("KeyPairMismatch", "The private key does not match the certificate's public key.");
  let chain: string | undefined;
  if (upload.certificateChain !== undefined && upload.certificateChain.trim() !== "") {
    const members = upload.certificateChain.match(PEM_CERTIFICATE) ?? [];
    if (members.length === 0) throw malformed("The certificate chain must be PEM-encoded certificates.");
    for (const [i, pem] of members.entries()) parseCertificate(pem, `certificate ${i + 1} of the chain`);
    chain = members.join("\n");
  }
  if (upload.arn !== undefined && !isCertificateArn(upload.arn))
    throw new BallastError(
      "ValidationError",
      `'${upload.arn}' is neither an IAM server-certificate ARN nor an ACM certificate ARN`,
    );
  return {
    arn: upload.arn ?? certificateArn(name),
    name,
    certificateBody: body,
    privateKey: upload.privateKey,
    ...(chain === undefined ? {} : { certificateChain: chain }),
    uploadedTime,
    notAfter: new Date(x509.validTo).toISOString(),
    subject: x509.subject.split("\n").join(", "),
  };
}

export function publicCertificate(cert: Certificate): PublicCertificate {
  const { privateKey: _key, ...rest } = cert;
  return rest;
}

/** The certificate ids the HTTPS/SSL listeners name, each once. */
export function listenerCertificateIds(listeners: readonly Listener[]): readonly string[] {
  return [...new Set(listeners.flatMap((l) => (l.sslCertificateId ? [l.sslCertificateId] : [])))];
}
