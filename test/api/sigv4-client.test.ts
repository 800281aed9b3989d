/**
 * The `ballast` command's SigV4 signer (node:crypto, src/cli/signed-client.ts) against the AWS
 * SDK's own (@smithy/signature-v4): the same request, credentials and instant give the same
 * Authorization header — for plain and percent-encoded paths, query strings and bodies.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { signRequest } from "../../src/cli/signed-client.js";

const credentials = {
  accessKeyId: "AKIASIGNERTEST000001",
  secretAccessKey: "signer/test+secret=0123456789abcdefghij",
};
const now = new Date("2026-12-05T19:31:27Z");

async function sdkAuthorization(
  method: string,
  url: URL,
  body: string,
  contentType?: string,
): Promise<string> {
  const signer = new SignatureV4({
    credentials,
    region: "eu-west-1",
    service: "elasticloadbalancing",
    sha256: Sha256,
  });
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const { createHash } = await import("node:crypto");
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": createHash("sha256").update(body, "utf8").digest("hex"),
  };
  if (contentType) headers["content-type"] = contentType;
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate: now },
  );
  return String(signed.headers.authorization);
}

describe("the CLI's SigV4 signer", () => {
  const cases: [string, string, string, string | undefined][] = [
    ["GET", "http://127.0.0.1:9700/admin/v1/instances", "", undefined],
    [
      "PUT",
      "http://127.0.0.1:9700/admin/v1/instances/i-0abc",
      '{"address":"10.0.0.1","zone":"us-east-1a"}',
      "application/json",
    ],
    ["GET", "http://127.0.0.1:9700/admin/v1/state/history?lb=web%20site&limit=5&before=9", "", undefined],
    ["DELETE", `http://127.0.0.1:9700/admin/v1/certificates/${encodeURIComponent("a b:c/é")}`, "", undefined],
    [
      "POST",
      "http://localhost:9700/",
      "Action=DescribeLoadBalancers&Version=2012-06-01",
      "application/x-www-form-urlencoded; charset=utf-8",
    ],
  ];
  for (const [method, href, body, contentType] of cases)
    it(`${method} ${href}`, async () => {
      const url = new URL(href);
      const ours = signRequest({
        method,
        url,
        headers: contentType ? { "Content-Type": contentType } : {},
        body,
        credentials,
        region: "eu-west-1",
        now,
      });
      assert.equal(ours.authorization, await sdkAuthorization(method, url, body, contentType));
      assert.equal(ours["x-amz-date"], "20261205T193127Z");
    });
});
