/**
 * SigV4 verification against requests signed by @smithy/signature-v4 (the signer inside every
 * AWS SDK for JavaScript v3), the AWS test-suite vectors, and every rejection path.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { describe, test } from "node:test";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { HttpRequest } from "@smithy/types";
import type { SignedRequest } from "../../src/api/auth/authenticator.js";
import { SigV4Authenticator } from "../../src/api/auth/sigv4.js";
import {
  canonicalQuery,
  canonicalUri,
  SigningKeyCache,
  signingKey,
} from "../../src/api/auth/sigv4-canonical.js";
import { BallastError } from "../../src/model/errors.js";
import type { Credential } from "../../src/model/types.js";
import { ACCESS_KEY_ID, ADMIN, authenticator, lookup, SECRET } from "./support.js";

const SIGNED_AT = new Date("2012-12-12T00:00:00Z");
const FORM = "Action=DescribeLoadBalancers&Version=2012-06-01";
const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret " +
  "Access Key and signing method. Consult the service documentation for details.";

function signer(
  opts: { secret?: string; region?: string; service?: string; sessionToken?: string } = {},
): SignatureV4 {
  return new SignatureV4({
    credentials: {
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: opts.secret ?? SECRET,
      ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}),
    },
    region: opts.region ?? "us-east-1",
    service: opts.service ?? "elasticloadbalancing",
    sha256: Sha256,
  });
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function post(body = FORM): HttpRequest {
  return {
    method: "POST",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 8080,
    path: "/",
    query: {},
    headers: { host: "127.0.0.1:8080", "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  };
}

function get(query: Record<string, string>, path = "/"): HttpRequest {
  return {
    method: "GET",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 8080,
    path,
    query,
    headers: { host: "127.0.0.1:8080" },
  };
}

/** What node:http would hand the server for this signed request. */
function received(req: HttpRequest): SignedRequest {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  const q = Object.entries(req.query ?? {})
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
    .join("&");
  return {
    method: req.method,
    url: q ? `${req.path}?${q}` : req.path,
    headers,
    body: Buffer.from(typeof req.body === "string" ? req.body : ""),
  };
}

async function signed(req: HttpRequest, opts: Parameters<typeof signer>[0] = {}, at = SIGNED_AT) {
  return received(await signer(opts).sign(req, { signingDate: at }));
}

const at = (iso: string) => () => new Date(iso);

async function rejects(
  auth: SigV4Authenticator,
  req: SignedRequest,
  code: string,
  message?: string | RegExp,
): Promise<void> {
  await assert.rejects(auth.authenticate(req), (e: unknown) => {
    assert.ok(e instanceof BallastError, `expected a BallastError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.status, 403);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

describe("SigV4: requests signed by @smithy/signature-v4", () => {
  const auth = authenticator(at("2012-12-12T00:01:00Z"));

  test("a signed POST of a Query form is accepted and names the credential", async () => {
    const result = await auth.authenticate(await signed(post()));
    assert.deepEqual(result.credential, ADMIN);
    assert.equal(result.region, "us-east-1");
  });

  test("any AWS region may be signed for: the request acts in the region of its scope", async () => {
    for (const region of ["eu-west-1", "us-gov-west-1", "ap-southeast-4", "cn-north-1"])
      assert.equal((await auth.authenticate(await signed(post(), { region }))).region, region);
  });

  test("a signed GET with awkward query values is accepted", async () => {
    const req = get({
      Action: "DescribeLoadBalancers",
      "LoadBalancerNames.member.1": "a b+c/d~e*f",
      Unicode: "ünï©ødé",
      Empty: "",
      Version: "2012-06-01",
    });
    await auth.authenticate(await signed(req));
  });

  test("a path with segments to normalise and escape is accepted", async () => {
    // As an SDK serializer sends it: already URI-encoded once; SigV4 encodes it once more.
    await auth.authenticate(await signed(get({ Action: "DescribeLoadBalancers" }, "/a/./b/../c%20d/")));
  });

  test("header values are trimmed and inner spaces collapsed", async () => {
    const req = post();
    req.headers["x-custom"] = "  a   b  c ";
    await auth.authenticate(await signed(req));
  });

  test("a presigned GET is accepted within X-Amz-Expires", async () => {
    const url = await signer().presign(get({ Action: "DescribeLoadBalancers", Version: "2012-06-01" }), {
      signingDate: SIGNED_AT,
      expiresIn: 300,
    });
    const req = received(url);
    assert.match(req.url, /X-Amz-Signature=/);
    assert.equal(req.headers.authorization, undefined);
    await authenticator(at("2012-12-12T00:04:59Z")).authenticate(req);
  });

  test("a presigned GET after X-Amz-Expires is rejected as expired", async () => {
    const req = received(
      await signer().presign(get({ Action: "DescribeLoadBalancers" }), {
        signingDate: SIGNED_AT,
        expiresIn: 60,
      }),
    );
    await rejects(
      authenticator(at("2012-12-12T00:02:00Z")),
      req,
      "SignatureDoesNotMatch",
      "Signature expired: 20121212T000000Z is now earlier than 20121212T000100Z (20121212T000200Z - 60 sec.)",
    );
  });

  test("a presigned GET with a tampered parameter is rejected", async () => {
    const req = received(
      await signer().presign(get({ Action: "DescribeLoadBalancers" }), {
        signingDate: SIGNED_AT,
        expiresIn: 60,
      }),
    );
    const tampered = { ...req, url: req.url.replace("DescribeLoadBalancers", "DeleteLoadBalancer") };
    await rejects(auth, tampered, "SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  });
});

describe("SigV4: AWS signature test-suite vectors", () => {
  // From the AWS SigV4 test suite (aws-sig-v4-test-suite): service "service", us-east-1.
  const suite = new SigV4Authenticator({
    lookup: async (id) =>
      id === "AKIDEXAMPLE"
        ? { ...ADMIN, accessKeyId: id, secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" }
        : undefined,
    service: "service",
    now: at("2015-08-30T12:36:00Z"),
  });
  const vector = (url: string, signature: string): SignedRequest => ({
    method: "GET",
    url,
    headers: {
      host: "example.amazonaws.com",
      "x-amz-date": "20150830T123600Z",
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
        `SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
    body: Buffer.alloc(0),
  });

  test("get-vanilla", async () => {
    await suite.authenticate(vector("/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
  });

  test("get-vanilla-query-order-key-case", async () => {
    await suite.authenticate(
      vector(
        "/?Param2=value2&Param1=value1",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
      ),
    );
  });

  test("canonical URI and query follow the spec's encoding rules", () => {
    assert.equal(canonicalUri("/"), "/");
    assert.equal(canonicalUri(""), "/");
    assert.equal(canonicalUri("/a/./b/../c/"), "/a/c/");
    assert.equal(canonicalUri("/a%20b"), "/a%2520b");
    assert.equal(canonicalQuery("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
    assert.equal(canonicalQuery("k=a b+~*%zz"), "k=a%20b%2B~%2A%25zz");
  });
});

describe("SigV4: rejections", () => {
  const auth = authenticator(at("2012-12-12T00:01:00Z"));

  test("no authentication at all", async () => {
    await rejects(
      auth,
      { method: "POST", url: "/", headers: { host: "h" }, body: Buffer.from(FORM) },
      "MissingAuthenticationToken",
      "Request is missing Authentication Token",
    );
  });

  const withAuthorization = async (value: string, drop: readonly string[] = []): Promise<SignedRequest> => {
    const req = await signed(post());
    const headers: IncomingHttpHeaders = { ...req.headers, authorization: value };
    for (const h of drop) delete headers[h];
    return { ...req, headers };
  };

  test("malformed Authorization headers are IncompleteSignature, with AWS's messages", async () => {
    const good = String((await signed(post())).headers.authorization);
    const noSignature = good.replace(/, Signature=[0-9a-f]+/, "");
    await rejects(
      auth,
      await withAuthorization(noSignature),
      "IncompleteSignature",
      `Authorization header requires 'Signature' parameter. Authorization=${noSignature}`,
    );
    await rejects(
      auth,
      await withAuthorization("Bearer abc", ["x-amz-date"]),
      "IncompleteSignature",
      "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' " +
        "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires " +
        "existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc",
    );
    const noEquals = good.replace("Credential=", "Credential ");
    await rejects(
      auth,
      await withAuthorization(noEquals),
      "IncompleteSignature",
      /not a valid key=value pair \(missing equal-sign\) in Authorization header/,
    );
    await rejects(
      auth,
      await withAuthorization(good.replace("/20121212/", "/")),
      "IncompleteSignature",
      /^Credential must have exactly 5 slash-delimited elements/,
    );
    await rejects(
      auth,
      await withAuthorization(good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")),
      "IncompleteSignature",
      "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
    );
    await rejects(
      auth,
      await withAuthorization(
        good.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"),
      ),
      "IncompleteSignature",
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
    await rejects(
      auth,
      await withAuthorization(good.replace("SignedHeaders=", "SignedHeaders=accept;")),
      "IncompleteSignature",
      "'accept' is named as a SignedHeader, but it does not exist in the HTTP request.",
    );
    await rejects(
      auth,
      await withAuthorization(good.replace("SignedHeaders=", "SignedHeaders=__proto__;")),
      "IncompleteSignature",
      "'__proto__' is named as a SignedHeader, but it does not exist in the HTTP request.",
    );
  });

  test("a malformed X-Amz-Date is IncompleteSignature", async () => {
    const req = await signed(post());
    await rejects(
      auth,
      { ...req, headers: { ...req.headers, "x-amz-date": "2012-12-12T00:00:00Z" } },
      "IncompleteSignature",
      /^Date must be in ISO-8601 'basic format'/,
    );
  });

  test("an unknown access key is InvalidClientTokenId", async () => {
    const req = await signed(post());
    const authz = String(req.headers.authorization).replace(ACCESS_KEY_ID, "AKIAUNKNOWNUNKNOWN00");
    await rejects(
      auth,
      { ...req, headers: { ...req.headers, authorization: authz } },
      "InvalidClientTokenId",
      "The security token included in the request is invalid.",
    );
  });

  test("a session token is InvalidClientTokenId: Ballast issues none", async () => {
    const req = await signed(post(), { sessionToken: "FwoGZXIvYXdzEXAMPLE" });
    assert.ok(req.headers["x-amz-security-token"]);
    await rejects(
      auth,
      req,
      "InvalidClientTokenId",
      "The security token included in the request is invalid.",
    );
  });

  test("a wrong secret is SignatureDoesNotMatch", async () => {
    await rejects(
      auth,
      await signed(post(), { secret: "not-the-secret-at-all-0000000000000000000" }),
      "SignatureDoesNotMatch",
      SIGNATURE_MISMATCH,
    );
  });

  test("a tampered body, query or signature is SignatureDoesNotMatch", async () => {
    const req = await signed(post());
    await rejects(
      auth,
      { ...req, body: Buffer.from(`${FORM}&LoadBalancerNames.member.1=x`) },
      "SignatureDoesNotMatch",
      SIGNATURE_MISMATCH,
    );
    await rejects(
      auth,
      { ...req, url: "/?Action=DeleteLoadBalancer" },
      "SignatureDoesNotMatch",
      SIGNATURE_MISMATCH,
    );
    const flipped = String(req.headers.authorization).replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    await rejects(
      auth,
      { ...req, headers: { ...req.headers, authorization: flipped } },
      "SignatureDoesNotMatch",
      SIGNATURE_MISMATCH,
    );
    const unsigned = { ...req.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
    await rejects(auth, { ...req, headers: unsigned }, "SignatureDoesNotMatch", SIGNATURE_MISMATCH);
  });

  test("a credential scoped to a malformed or unserved region, or another service, is SignatureDoesNotMatch", async () => {
    for (const region of ["moon-base", "EU-WEST-1", "us-east", "eu-west-1-"])
      await rejects(
        auth,
        await signed(post(), { region }),
        "SignatureDoesNotMatch",
        `Credential should be scoped to a valid region, not '${region}'. `,
      );
    const euOnly = new SigV4Authenticator({
      lookup,
      regions: ["eu-west-1"],
      service: "elasticloadbalancing",
      now: at("2012-12-12T00:01:00Z"),
    });
    assert.equal(
      (await euOnly.authenticate(await signed(post(), { region: "eu-west-1" }))).region,
      "eu-west-1",
    );
    await rejects(
      euOnly,
      await signed(post()),
      "SignatureDoesNotMatch",
      "Credential should be scoped to a valid region, not 'us-east-1'. ",
    );
    await rejects(
      auth,
      await signed(post(), { service: "ec2" }),
      "SignatureDoesNotMatch",
      "Credential should be scoped to correct service: 'elasticloadbalancing'. ",
    );
  });

  test("a scope date that is not the request date is SignatureDoesNotMatch", async () => {
    const req = await signed(post());
    const authz = String(req.headers.authorization).replace("/20121212/", "/20121211/");
    await rejects(
      auth,
      { ...req, headers: { ...req.headers, authorization: authz } },
      "SignatureDoesNotMatch",
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
        "'20121211' != '20121212', from '20121212T000000Z'.",
    );
  });

  test("a request 10 minutes old is 'Signature expired'", async () => {
    await rejects(
      authenticator(at("2012-12-12T00:10:00Z")),
      await signed(post()),
      "SignatureDoesNotMatch",
      "Signature expired: 20121212T000000Z is now earlier than 20121212T000500Z (20121212T001000Z - 5 min.)",
    );
  });

  test("a request 10 minutes in the future is 'Signature not yet current'", async () => {
    await rejects(
      authenticator(at("2012-12-11T23:50:00Z")),
      await signed(post()),
      "SignatureDoesNotMatch",
      "Signature not yet current: 20121212T000000Z is still later than 20121211T235500Z " +
        "(20121211T235000Z + 5 min.)",
    );
  });

  test("presigned URLs: missing parameters, bad expiry, both mechanisms at once", async () => {
    const url = received(
      await signer().presign(get({ Action: "DescribeLoadBalancers" }), {
        signingDate: SIGNED_AT,
        expiresIn: 60,
      }),
    );
    await rejects(
      auth,
      { ...url, url: url.url.replace(/&?X-Amz-Signature=[0-9a-f]+/, "") },
      "IncompleteSignature",
      "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters.",
    );
    await rejects(
      auth,
      { ...url, url: url.url.replace("X-Amz-Expires=60", "X-Amz-Expires=604801") },
      "IncompleteSignature",
      /^X-Amz-Expires must be/,
    );
    await rejects(
      auth,
      { ...url, headers: { ...url.headers, authorization: "AWS4-HMAC-SHA256 Credential=x" } },
      "IncompleteSignature",
      /^Only one auth mechanism allowed/,
    );
    const withToken = { ...url, url: `${url.url}&X-Amz-Security-Token=abc` };
    await rejects(auth, withToken, "InvalidClientTokenId");
  });
});

describe("SigV4: the head before the body", () => {
  const auth = authenticator(at("2012-12-12T00:01:00Z"));

  test("an unknown key, a bad clock or a missing signature fail on the head alone", async () => {
    const good = await signed(post());
    const head = { method: good.method, url: good.url, headers: good.headers };
    const pending = await auth.authenticateHead(head);
    assert.equal(pending.presigned, false);
    assert.equal(pending.verify(sha256(FORM)).credential.principal, "admin");
    await assert.rejects(auth.authenticateHead({ ...head, headers: { host: "h" } }), /Authentication Token/);
    const stranger = String(good.headers.authorization).replace(ACCESS_KEY_ID, "AKIANOBODY0000000000");
    await assert.rejects(
      auth.authenticateHead({ ...head, headers: { ...good.headers, authorization: stranger } }),
      (e: unknown) => e instanceof BallastError && e.code === "InvalidClientTokenId",
    );
    const late = authenticator(at("2012-12-12T01:00:00Z"));
    await assert.rejects(late.authenticateHead(head), /Signature expired/);
  });

  test("a declared payload hash is signed: verified before the body, and must be the body's", async () => {
    const req = post();
    const hash = sha256(FORM);
    const withHash = await signed({ ...req, headers: { ...req.headers, "x-amz-content-sha256": hash } });
    const pending = await auth.authenticateHead(withHash);
    assert.equal(pending.declaredPayloadHash, hash);
    assert.equal(pending.verify(hash).region, "us-east-1");
    assert.throws(() => pending.verify(sha256("another body")), /signature we calculated/);
    // A non-hash (UNSIGNED-PAYLOAD) is never a shortcut around signing the body.
    const unsigned = await signed({
      ...req,
      headers: { ...req.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    });
    await assert.rejects(auth.authenticateHead(unsigned), /signature we calculated/);
  });

  test("a presigned request says so", async () => {
    const url = await signer().presign(get({ Action: "DescribeLoadBalancers", Version: "2012-06-01" }), {
      signingDate: SIGNED_AT,
      expiresIn: 3600,
    });
    const pending = await auth.authenticateHead(received(url));
    assert.equal(pending.presigned, true);
    assert.equal(pending.verify(sha256("")).presigned, true);
  });
});

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

describe("SigV4: derived signing keys are cached per secret and scope", () => {
  test("the cache gives the key the derivation gives, per day, region and service, and stays bounded", () => {
    const cache = new SigningKeyCache(3);
    const scopes: [string, string, string][] = [
      ["20121212", "us-east-1", "elasticloadbalancing"],
      ["20121213", "us-east-1", "elasticloadbalancing"],
      ["20121212", "eu-west-1", "elasticloadbalancing"],
      ["20121212", "us-east-1", "iam"],
    ];
    for (const [d, r, v] of scopes) {
      assert.deepEqual(cache.key(SECRET, d, r, v), signingKey(SECRET, d, r, v));
      assert.deepEqual(
        cache.key(SECRET, d, r, v),
        signingKey(SECRET, d, r, v),
        "a second time, from the cache",
      );
    }
    assert.ok(cache.size <= 3, `bounded: ${cache.size} keys held`);
    assert.notDeepEqual(
      cache.key("another secret", "20121212", "us-east-1", "iam"),
      cache.key(SECRET, "20121212", "us-east-1", "iam"),
    );
  });

  test("a secret replaced behind the same access key id is refused at once: no key derived from the old one is reused", async () => {
    let current: Credential = ADMIN;
    const auth = new SigV4Authenticator({
      lookup: async (id) => (id === ACCESS_KEY_ID ? current : undefined),
      service: "elasticloadbalancing",
      now: at("2012-12-12T00:01:00Z"),
    });
    const old = await signed(post());
    await auth.authenticate(old);
    await auth.authenticate(old);
    current = { ...ADMIN, secretAccessKey: "a/new/secret/for/the/same/key/id/0000000" };
    await rejects(auth, old, "SignatureDoesNotMatch", SIGNATURE_MISMATCH);
    await auth.authenticate(await signed(post(), { secret: current.secretAccessKey }));
  });
});
