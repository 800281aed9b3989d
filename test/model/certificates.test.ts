import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BALLAST_ACCOUNT_ID,
  certificateArn,
  isCertificateArn,
  listenerCertificateIds,
  publicCertificate,
  validateCertificateName,
  validateCertificateUpload,
} from "../../src/model/certificates.js";
import { BallastError } from "../../src/model/errors.js";
import { selfSignedCert } from "../support/certs.js";

function rejects(fn: () => unknown, code: string, status = 400): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BallastError);
    assert.equal(e.code, code, e.message);
    assert.equal(e.status, status);
    return true;
  });
}

describe("certificates", () => {
  const web = selfSignedCert("web.example.test", { days: 30 });
  const other = selfSignedCert("other.example.test");
  const ca = selfSignedCert("ca.example.test");
  const T = "2026-01-01T00:00:00.000Z";

  test("an upload becomes a Certificate with an IAM-style ARN under Ballast's account", () => {
    const c = validateCertificateUpload(
      {
        name: "web-2026",
        certificateBody: `\n${web.cert}\n`,
        privateKey: web.key,
        certificateChain: ca.cert,
      },
      T,
    );
    assert.equal(c.arn, `arn:aws:iam::${BALLAST_ACCOUNT_ID}:server-certificate/web-2026`);
    assert.equal(BALLAST_ACCOUNT_ID.length, 12);
    assert.equal(c.name, "web-2026");
    assert.equal(c.certificateBody, web.cert.trim());
    assert.equal(c.privateKey, web.key);
    assert.equal(c.certificateChain, ca.cert.trim());
    assert.equal(c.uploadedTime, T);
    assert.equal(c.subject, "CN=web.example.test");
    const days = (Date.parse(c.notAfter) - Date.now()) / 86_400_000;
    assert.ok(days > 28 && days < 31, c.notAfter);
    assert.equal(isCertificateArn(c.arn), true);
  });

  test("the public view has everything but the private key", () => {
    const c = validateCertificateUpload({ name: "w", certificateBody: web.cert, privateKey: web.key }, T);
    const pub = publicCertificate(c);
    assert.equal("privateKey" in pub, false);
    assert.doesNotMatch(JSON.stringify(pub), /PRIVATE KEY/);
    assert.equal(pub.arn, c.arn);
  });

  test("a key of another certificate is KeyPairMismatch", () => {
    rejects(
      () => validateCertificateUpload({ name: "w", certificateBody: web.cert, privateKey: other.key }, T),
      "KeyPairMismatch",
    );
  });

  test("malformed bodies, keys and chains are MalformedCertificate", () => {
    const up =
      (over: Partial<{ certificateBody: string; privateKey: string; certificateChain: string }>) => () =>
        validateCertificateUpload({ name: "w", certificateBody: web.cert, privateKey: web.key, ...over }, T);
    rejects(up({ certificateBody: "not a certificate" }), "MalformedCertificate");
    rejects(up({ certificateBody: `${web.cert}\n${ca.cert}` }), "MalformedCertificate");
    rejects(
      up({ certificateBody: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }),
      "MalformedCertificate",
    );
    rejects(
      up({ privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }),
      "MalformedCertificate",
    );
    rejects(up({ privateKey: web.cert }), "MalformedCertificate");
    rejects(up({ certificateChain: "garbage" }), "MalformedCertificate");
    rejects(
      up({ certificateChain: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }),
      "MalformedCertificate",
    );
  });

  test("names: 1 to 128 of [\\w+=,.@-]", () => {
    for (const ok of ["a", "x".repeat(128), "My_Cert+=,.@-1"]) assert.equal(validateCertificateName(ok), ok);
    for (const bad of ["", "x".repeat(129), "a/b", "a b", "ü"])
      rejects(() => validateCertificateName(bad), "ValidationError");
    rejects(() => certificateArn("a/b"), "ValidationError");
  });

  test("ARN forms: IAM with and without a path, ACM; anything else is not a certificate id", () => {
    for (const ok of [
      "arn:aws:iam::123456789012:server-certificate/web",
      "arn:aws:iam::123456789012:server-certificate/prod/eu/web.example",
      "arn:aws-cn:iam::123456789012:server-certificate/web",
      "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
      "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/abcdef01-2345-6789-abcd-ef0123456789",
    ])
      assert.equal(isCertificateArn(ok), true, ok);
    for (const bad of [
      "web",
      "arn:aws:iam::12345:server-certificate/web",
      "arn:aws:iam::123456789012:server-certificate/",
      "arn:aws:iam::123456789012:user/web",
      "arn:aws:acm:us-east-1:123456789012:certificate/not-a-uuid",
      "arn:aws:acm::123456789012:certificate/12345678-1234-1234-1234-123456789012",
    ])
      assert.equal(isCertificateArn(bad), false, bad);
  });

  test("listenerCertificateIds: each named certificate once", () => {
    const l = (port: number, id?: string) => ({
      protocol: "HTTPS" as const,
      loadBalancerPort: port,
      instanceProtocol: "HTTP" as const,
      instancePort: 80,
      ...(id === undefined ? {} : { sslCertificateId: id }),
    });
    assert.deepEqual(listenerCertificateIds([l(443, "a"), l(8443, "a"), l(9443, "b"), l(80)]), ["a", "b"]);
  });
});
