/**
 * The audit log at the API edge: one record per call (allowed, denied, failed), with the change
 * ticket; failed authentications counted per source and minute, never one row each.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAdminHandler } from "../../src/api/admin/handler.js";
import { AuditLog } from "../../src/api/auth/audit-log.js";
import { createAwsQueryHandler } from "../../src/api/aws-query/handler.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { authHeader, postForm, READER_KEY, testAuthenticator, ZONES } from "./support.js";

describe("audit log", () => {
  let dir: string;
  let store: SqliteStore;
  let audit: AuditLog;
  let server: Server;
  let url: string;
  let clock = Date.parse("2026-03-01T10:00:10.000Z");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-audit-"));
    store = new SqliteStore(join(dir, "ballast.db"));
    audit = new AuditLog({
      store,
      logger: silentLogger,
      flushMs: 60_000,
      maxSourcesPerMinute: 2,
      now: () => new Date(clock),
    });
    const common = { store, authenticator: testAuthenticator, logger: silentLogger, zones: ZONES, audit };
    const query = createAwsQueryHandler({ ...common, dnsDomain: "ballast.test" });
    const admin = createAdminHandler(common);
    server = createServer((req, res) => (req.url?.startsWith("/admin/") ? admin(req, res) : query(req, res)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await audit.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records each call with who, what, on what, from where, the result and the ticket", async () => {
    const describeLbs = { Action: "DescribeLoadBalancers", Version: "2012-06-01" };
    assert.equal(
      (await postForm(url, describeLbs, { authorization: authHeader(), "x-ballast-ticket": "CHG-42" }))
        .status,
      200,
    );
    const create = {
      Action: "CreateLoadBalancer",
      Version: "2012-06-01",
      LoadBalancerName: "web",
      "Listeners.member.1.Protocol": "HTTP",
      "Listeners.member.1.LoadBalancerPort": "80",
      "Listeners.member.1.InstancePort": "80",
      "AvailabilityZones.member.1": "us-east-1a",
    };
    assert.equal((await postForm(url, create, { authorization: authHeader(READER_KEY) })).status, 403);
    const missing = {
      Action: "DeleteLoadBalancerListeners",
      Version: "2012-06-01",
      LoadBalancerName: "nope",
      "LoadBalancerPorts.member.1": "80",
    };
    assert.equal((await postForm(url, missing)).status, 400);
    await audit.flush();
    const records = await store.audit();
    assert.deepEqual(
      records.map((r) => [
        r.principal,
        r.accessKeyId,
        r.action,
        r.resource,
        r.result,
        r.ticket ?? null,
        r.count,
      ]),
      [
        [
          "arn:aws:iam::000000000000:user/alice",
          "AKIDADMIN0000000",
          "elasticloadbalancing:DeleteLoadBalancerListeners",
          "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/nope",
          "LoadBalancerNotFound",
          null,
          1,
        ],
        [
          "arn:aws:iam::000000000000:user/rita",
          "AKIDREADER000000",
          "elasticloadbalancing:CreateLoadBalancer",
          "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/web",
          "denied",
          null,
          1,
        ],
        [
          "arn:aws:iam::000000000000:user/alice",
          "AKIDADMIN0000000",
          "elasticloadbalancing:DescribeLoadBalancers",
          "*",
          "allowed",
          "CHG-42",
          1,
        ],
      ],
    );
    assert.ok(records.every((r) => r.sourceIp === "127.0.0.1" && r.time === "2026-03-01T10:00:10.000Z"));
  });

  it("counts failed authentications per source, code and minute, with a cap on sources", async () => {
    const before = (await store.audit({ limit: 10_000 })).length;
    for (let i = 0; i < 50; i++) audit.unauthenticated("198.51.100.1", "InvalidClientTokenId", `r${i}`);
    for (let i = 0; i < 5; i++) audit.unauthenticated("198.51.100.1", "SignatureDoesNotMatch", `s${i}`);
    // Over the cap of 2 distinct (source, code) per minute: counted together under "*".
    for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
      audit.unauthenticated(ip, "InvalidClientTokenId", ip);
    assert.equal((await postForm(url, { Action: "DescribeLoadBalancers" }, {})).status, 403);
    await audit.flush();
    assert.equal(
      (await store.audit({ limit: 10_000 })).length,
      before,
      "the minute under way is not written yet",
    );
    clock += 60_000;
    await audit.flush();
    const anon = await store.audit({ principal: "anonymous" });
    assert.deepEqual(anon.map((r) => [r.sourceIp, r.result, r.count, r.time]).sort(), [
      ["*", "InvalidClientTokenId", 3, "2026-03-01T10:00:00.000Z"],
      ["*", "MissingAuthenticationToken", 1, "2026-03-01T10:00:00.000Z"],
      ["198.51.100.1", "InvalidClientTokenId", 50, "2026-03-01T10:00:00.000Z"],
      ["198.51.100.1", "SignatureDoesNotMatch", 5, "2026-03-01T10:00:00.000Z"],
    ]);
  });

  it("is readable and filterable through GET /admin/v1/audit", async () => {
    const res = await fetch(`${url}/admin/v1/audit?result=denied&principal=rita&limit=5`, {
      headers: { authorization: authHeader() },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { records: { action: string }[] };
    assert.deepEqual(
      body.records.map((r) => r.action),
      ["elasticloadbalancing:CreateLoadBalancer"],
    );
    const bad = await fetch(`${url}/admin/v1/audit?since=yesterday`, {
      headers: { authorization: authHeader() },
    });
    assert.equal(bad.status, 400);
    const reader = await fetch(`${url}/admin/v1/audit`, {
      headers: { authorization: authHeader(READER_KEY) },
    });
    assert.equal(reader.status, 403, "BallastReadOnly does not read the audit log");
  });
});
