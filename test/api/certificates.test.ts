/** The certificate store: admin JSON API, the `ballast certs` CLI, and listeners that use it. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  type ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { type CertPem, selfSignedCert } from "../support/certs.js";
import { ADMIN_KEY, authHeader, READER_KEY, SECRET, startTestServer, type TestServer } from "./support.js";

const run = promisify(execFile);
const CLI = join(dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");
const ARN = (name: string) => `arn:aws:iam::000000000000:server-certificate/${name}`;

describe("certificate store", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  let dir: string;
  let web: CertPem;
  let other: CertPem;

  before(async () => {
    server = await startTestServer();
    elb = server.client();
    dir = mkdtempSync(join(tmpdir(), "ballast-certs-"));
    web = selfSignedCert("web.example.test");
    other = selfSignedCert("other.example.test");
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, body?: unknown, key?: string) {
    const res = await fetch(`${server.url}/admin/v1${path}`, {
      method,
      headers: { authorization: authHeader(key), "content-type": "application/json" },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
  }

  /** Asserts the admin call fails with code/status and appends no revision. */
  async function refused(
    method: string,
    path: string,
    body: unknown,
    code: string,
    status: number,
    key?: string,
  ) {
    const head = await server.store.head();
    const res = await call(method, path, body, key);
    assert.equal(res.status, status, res.text);
    assert.equal((res.json.error as { code: string }).code, code, res.text);
    assert.equal(await server.store.head(), head);
  }

  test("PUT uploads a certificate: an ARN comes back, the private key never does", async () => {
    const head = await server.store.head();
    const res = await call("PUT", "/certificates/web", {
      certificateBody: web.cert,
      privateKey: web.key,
      certificateChain: other.cert,
    });
    assert.equal(res.status, 200, res.text);
    const cert = res.json.certificate as Record<string, unknown>;
    assert.equal(cert.arn, ARN("web"));
    assert.equal(cert.name, "web");
    assert.equal(cert.subject, "CN=web.example.test");
    assert.equal("privateKey" in cert, false);
    assert.doesNotMatch(res.text, /PRIVATE KEY/);
    assert.equal(await server.store.head(), head + 1);
    const rev = await server.store.revision(head + 1);
    assert.equal(rev?.action, "PutCertificate");
    assert.equal(rev?.principal, "alice");
    // The store keeps the key: the agents need it.
    assert.equal((await server.store.get("certificate", ARN("web")))?.doc.privateKey, web.key);

    const list = await call("GET", "/certificates");
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.json.certificates as { arn: string }[]).map((c) => c.arn),
      [ARN("web")],
    );
    assert.doesNotMatch(list.text, /PRIVATE KEY/);
    const one = await call("GET", "/certificates/web");
    assert.equal((one.json.certificate as { arn: string }).arn, ARN("web"));
    assert.doesNotMatch(one.text, /PRIVATE KEY/);
    // A reader may read.
    assert.equal((await call("GET", "/certificates", undefined, READER_KEY)).status, 200);
  });

  test("a rejected upload stores nothing", async () => {
    await refused(
      "PUT",
      "/certificates/bad",
      { certificateBody: web.cert, privateKey: other.key },
      "KeyPairMismatch",
      400,
    );
    await refused(
      "PUT",
      "/certificates/bad",
      {
        certificateBody: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        privateKey: web.key,
      },
      "MalformedCertificate",
      400,
    );
    await refused(
      "PUT",
      "/certificates/bad",
      { certificateBody: web.cert, privateKey: "nope" },
      "MalformedCertificate",
      400,
    );
    await refused("PUT", "/certificates/bad", { certificateBody: web.cert }, "ValidationError", 400);
    await refused("PUT", "/certificates/bad", "{not json", "ValidationError", 400);
    await refused(
      "PUT",
      "/certificates/bad%20name",
      { certificateBody: web.cert, privateKey: web.key },
      "ValidationError",
      400,
    );
    await refused(
      "PUT",
      "/certificates/r",
      { certificateBody: web.cert, privateKey: web.key },
      "AccessDenied",
      403,
      READER_KEY,
    );
    await refused("GET", "/certificates/missing", undefined, "NotFound", 404);
    await refused("POST", "/certificates", {}, "NotFound", 404);
  });

  test("a certificate in use by a listener cannot be deleted; unused, it can", async () => {
    await call("PUT", "/certificates/inuse", { certificateBody: other.cert, privateKey: other.key });
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "tls",
        Listeners: [
          { Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 8080, SSLCertificateId: ARN("inuse") },
        ],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    await refused("DELETE", "/certificates/inuse", undefined, "InvalidConfigurationRequest", 409);
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "tls" }));
    const del = await call("DELETE", "/certificates/inuse");
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.deleted, ARN("inuse"));
    assert.equal(await server.store.get("certificate", ARN("inuse")), undefined);
    await refused("DELETE", "/certificates/inuse", undefined, "NotFound", 404);
    await refused("DELETE", "/certificates/web", undefined, "AccessDenied", 403, READER_KEY);
  });

  test("PUT over an existing name rotates it under the same ARN", async () => {
    await call("PUT", "/certificates/rot", { certificateBody: web.cert, privateKey: web.key });
    const res = await call("PUT", "/certificates/rot", {
      certificateBody: other.cert,
      privateKey: other.key,
    });
    assert.equal(res.status, 200);
    assert.equal((await server.store.get("certificate", ARN("rot")))?.doc.subject, "CN=other.example.test");
  });

  test("an upload may carry an ACM-style ARN; an HTTPS listener names it; the name stays unique", async () => {
    const acm = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012";
    const res = await call("PUT", "/certificates/acm-site", {
      certificateBody: web.cert,
      privateKey: web.key,
      arn: acm,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json.certificate as { arn: string }).arn, acm);
    assert.equal((await call("GET", "/certificates/acm-site")).status, 200);
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "acm",
        Listeners: [{ Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 8080, SSLCertificateId: acm }],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    await refused(
      "PUT",
      "/certificates/acm-site",
      { certificateBody: web.cert, privateKey: web.key },
      "InvalidConfigurationRequest",
      409,
    );
    await refused(
      "PUT",
      "/certificates/bad-arn",
      { certificateBody: web.cert, privateKey: web.key, arn: "arn:aws:s3:::bucket" },
      "ValidationError",
      400,
    );
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "acm" }));
    const del = await call("DELETE", "/certificates/acm-site");
    assert.equal(del.json.deleted, acm);
  });

  test("ballast certs upload | list | delete", async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: ADMIN_KEY, AWS_SECRET_ACCESS_KEY: SECRET };
    const cli = (...args: string[]) =>
      run(process.execPath, [CLI, "certs", ...args, "--endpoint", server.url], { env });
    /** `text` in a file under `dir`, for the CLI's --cert, --key and --chain. */
    const file = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const webCrt = file("web.crt", web.cert);
    const up = await cli(
      "upload",
      "from-cli",
      "--cert",
      webCrt,
      "--key",
      file("web.key", web.key),
      "--chain",
      file("chain.pem", other.cert),
      "--json",
    );
    assert.equal(
      (JSON.parse(up.stdout) as { certificate: { arn: string } }).certificate.arn,
      ARN("from-cli"),
    );
    const list = await cli("list");
    assert.match(list.stdout, /from-cli/);
    assert.doesNotMatch(list.stdout, /PRIVATE KEY/);
    const del = await cli("delete", "from-cli");
    assert.match(del.stdout, /from-cli/);
    await assert.rejects(
      cli("upload", "mismatch", "--cert", webCrt, "--key", file("other.key", other.key)),
      /KeyPairMismatch/,
    );
  });
});
