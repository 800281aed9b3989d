/**
 * Nothing is buffered before authentication (the head is checked first, the body read within the
 * route's limit), no presigned URL maintains or exports, and unauthenticated noise is counted and
 * logged at a bounded rate — on real servers on port 0, with real SigV4.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import { createAdminHandler } from "../../src/api/admin/handler.js";
import { SigV4Authenticator } from "../../src/api/auth/sigv4.js";
import { createAwsQueryHandler } from "../../src/api/aws-query/handler.js";
import { UNAUTHENTICATED_METRIC, UnauthenticatedNoise } from "../../src/api/unauthenticated.js";
import { SignedClient } from "../../src/cli/signed-client.js";
import { renderMetrics } from "../../src/controller/metrics.js";
import type { Credential } from "../../src/model/types.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createLogger } from "../../src/util/logger.js";
import { meta } from "../support/builders.js";
import { ticketFor } from "../support/tickets.js";

const ADMIN: Credential = {
  accessKeyId: "AKIAEDGEADMIN0000001",
  secretAccessKey: "edge-admin-secret-0123456789abcdefghijk",
  principal: "edge-admin",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};
/** The second person: approves the ticket the import runs under. */
const APPROVER: Credential = {
  accessKeyId: "AKIAEDGEAPPROVER0001",
  secretAccessKey: "edge-approver-secret-0123456789abcdefgh",
  principal: "edge-approver",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};
const MB = 1024 * 1024;

describe("the API edge before authentication", () => {
  let dir: string;
  let store: SqliteStore;
  let server: Server;
  let port: number;
  let url: string;
  const lines: string[] = [];
  let noise: UnauthenticatedNoise;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-edge-"));
    store = new SqliteStore(join(dir, "ballast.db"));
    await store.mutate(meta("CreateCredential"), async (tx) => {
      tx.put("credential", ADMIN.accessKeyId, ADMIN);
      tx.put("credential", APPROVER.accessKeyId, APPROVER);
    });
    const logger = createLogger({}, "info", (line) => lines.push(line));
    noise = new UnauthenticatedNoise({ logger });
    const authenticator = new SigV4Authenticator({
      lookup: async (id) => (await store.get("credential", id))?.doc,
      service: "elasticloadbalancing",
    });
    const admin = createAdminHandler({
      store,
      authenticator,
      logger,
      noise,
      backupDir: join(dir, "backups"),
    });
    const query = createAwsQueryHandler({
      store,
      authenticator,
      logger,
      noise,
      dnsDomain: "x",
      zones: ["z"],
    });
    server = createServer((req, res) => (req.url?.startsWith("/admin/") ? admin(req, res) : query(req, res)));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Streams `total` bytes (64 KiB at a time, with back-pressure) and resolves with the status, if any. */
  function upload(
    path: string,
    total: number,
    headers: Record<string, string | number>,
  ): Promise<{ status: number | undefined; sent: number }> {
    return new Promise((resolve) => {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      let status: number | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        resolve({ status, sent });
      };
      const req = request({ host: "127.0.0.1", port, method: "POST", path, headers });
      req.on("response", (res) => {
        status = res.statusCode;
        res.resume();
        res.on("end", finish);
        res.on("error", finish);
      });
      req.on("error", finish);
      req.on("close", () => setTimeout(finish, 50));
      const pump = (): void => {
        while (sent < total && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once("drain", pump);
            return;
          }
        }
        if (sent >= total) req.end();
      };
      pump();
    });
  }

  async function rssGrowth(run: () => Promise<unknown>): Promise<number> {
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    await run();
    return (process.memoryUsage().rss - before) / MB;
  }

  it("refuses an unsigned 200 MB import without buffering it (RSS grows by a few MB at most)", async (t) => {
    let declared: { status: number | undefined; sent: number } = { status: undefined, sent: 0 };
    let chunked: { status: number | undefined; sent: number } = { status: undefined, sent: 0 };
    const growth = await rssGrowth(async () => {
      declared = await upload("/admin/v1/state/import", 200 * MB, { "content-length": 200 * MB });
      chunked = await upload("/admin/v1/state/import", 200 * MB, { "transfer-encoding": "chunked" });
    });
    assert.equal(declared.status, 403);
    assert.equal(chunked.status, 403);
    assert.ok(declared.sent < 200 * MB && chunked.sent < 200 * MB, "the server stopped the upload");
    t.diagnostic(
      `RSS growth ${growth.toFixed(1)} MB; client sent ${declared.sent} and ${chunked.sent} bytes`,
    );
    assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MB`);
  });

  it("refuses a body over the route's limit with 413, from its length, before reading it", async () => {
    // A well-formed head with a real key and a fresh date, but no declared payload hash: the
    // unverified bound (1 MiB) applies, and the 200 MB body is refused from its Content-Length.
    const head = await signedHead("POST", "/admin/v1/state/import", undefined);
    const big = await upload("/admin/v1/state/import", 200 * MB, { ...head, "content-length": 200 * MB });
    assert.equal(big.status, 413);
    // An ordinary admin route: 64 KiB.
    const small = await signedHead("POST", "/admin/v1/state/restore", undefined);
    const over = await upload("/admin/v1/state/restore", 200 * 1024, {
      ...small,
      "content-length": 200 * 1024,
    });
    assert.equal(over.status, 413);
    // The AWS Query endpoint: 1 MiB.
    const q = await signedHead("POST", "/", undefined);
    const overQuery = await upload("/", 2 * MB, { ...q, "content-length": 2 * MB });
    assert.equal(overQuery.status, 413);
  });

  it("a declared payload hash lets the signature be checked before the body: a wrong one reads nothing", async () => {
    const fake = createHash("sha256").update("something else").digest("hex");
    const head = await signedHead("POST", "/admin/v1/state/import", fake);
    const tampered = {
      ...head,
      authorization: head.authorization.replace(/Signature=\w+/, `Signature=${"0".repeat(64)}`),
    };
    let result: { status: number | undefined; sent: number } = { status: undefined, sent: 0 };
    const growth = await rssGrowth(async () => {
      result = await upload("/admin/v1/state/import", 200 * MB, { ...tampered, "content-length": 200 * MB });
    });
    assert.equal(result.status, 403);
    assert.ok(growth < 16, `RSS grew by ${growth.toFixed(1)} MB`);
  });

  it("a signed import larger than the unverified bound works with a declared hash", async () => {
    const ticket = await ticketFor(url, ADMIN, APPROVER, ["ballast:ImportState"]);
    const client = new SignedClient(url, ADMIN, "us-east-1", { ticket });
    const exported = await client.send("GET", "/admin/v1/state/export");
    assert.equal(exported.status, 200);
    // Padded past 1 MiB with whitespace: still the same JSON document.
    const body = exported.body + " ".repeat(2 * MB);
    const res = await client.send("POST", "/admin/v1/state/import", body, "application/json");
    assert.equal(res.status, 200, res.body);
  });

  it("refuses presigned URLs for export and maintenance, and still accepts them for reads", async () => {
    const signer = new SignatureV4({
      credentials: ADMIN,
      region: "us-east-1",
      service: "elasticloadbalancing",
      sha256: Sha256,
    });
    const presign = async (method: string, path: string): Promise<string> => {
      const signed = await signer.presign(
        {
          method,
          protocol: "http:",
          hostname: "127.0.0.1",
          port,
          path,
          query: {},
          headers: { host: `127.0.0.1:${port}` },
        },
        { expiresIn: 604_800 },
      );
      const q = new URLSearchParams(signed.query as Record<string, string>);
      return `${url}${path}?${q}`;
    };
    const exportRes = await fetch(await presign("GET", "/admin/v1/state/export"));
    assert.equal(exportRes.status, 403);
    const body = (await exportRes.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "AccessDenied");
    assert.match(body.error.message, /presigned/);
    for (const path of [
      "/admin/v1/state/restore",
      "/admin/v1/state/import",
      "/admin/v1/state/compact",
      "/admin/v1/guard/holds/us-east-1a/release",
    ]) {
      const res = await fetch(await presign("POST", path), { method: "POST" });
      assert.equal(res.status, 403, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "AccessDenied", path);
    }
    const history = await fetch(await presign("GET", "/admin/v1/state/history"));
    assert.equal(history.status, 200);
  });

  it("5,000 unauthenticated connections closed mid-request: all counted, a few info lines, no error", async (t) => {
    noise.flush();
    lines.length = 0;
    const before = noise.counter.total();
    const N = 5000;
    const CONCURRENCY = 100;
    const started = Date.now();
    let next = 0;
    const one = (i: number): Promise<void> =>
      new Promise((resolve) => {
        const socket = connect(port, "127.0.0.1");
        // Half without any signature; half with a real access key and a fresh date but a bad
        // signature, which get as far as reading the body — and then the client goes away.
        const auth =
          i % 2 === 0
            ? ""
            : `Authorization: AWS4-HMAC-SHA256 Credential=${ADMIN.accessKeyId}/${today()}/us-east-1/elasticloadbalancing/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}\r\nX-Amz-Date: ${amzNow()}\r\n`;
        const path = i % 4 < 2 ? "/admin/v1/state/restore" : "/";
        socket.on("error", () => {});
        socket.on("close", () => resolve());
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n${auth}\r\n${"x".repeat(100)}`,
          // Once the request is on its way, close: after the server's answer, or after a moment
          // (the request is still mid-body: 100 of 1,000 bytes).
          () => setTimeout(() => socket.destroy(), 30),
        );
        socket.once("data", () => socket.destroy());
      });
    const worker = async (): Promise<void> => {
      while (next < N) await one(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const deadline = Date.now() + 10_000;
    while (noise.counter.total() - before < N && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const elapsed = Date.now() - started;
    assert.equal(noise.counter.total() - before, N, "every refused request is counted");
    assert.ok(noise.counter.get("missing-signature") >= N / 2);
    noise.flush();
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; count?: number });
    assert.equal(parsed.filter((l) => l.level === "error").length, 0, "nothing at error level");
    t.diagnostic(
      `${parsed.length} log line(s) for ${N} connections in ${elapsed} ms: ${JSON.stringify(noise.counter.render())}`,
    );
    // One line at the first refusal, then at most one per 10 s while the burst lasts, and the flush.
    const bound = 2 + Math.ceil(elapsed / 10_000);
    assert.ok(
      parsed.length <= Math.min(bound, 10),
      `${parsed.length} lines for ${N} connections in ${elapsed} ms`,
    );
    assert.equal(
      parsed.reduce((n, l) => n + (l.count ?? 0), 0),
      N,
      "the summary lines account for every refusal",
    );
    const metrics = await renderMetrics(store, undefined, Date.now(), [noise.counter]);
    assert.match(metrics, new RegExp(`${UNAUTHENTICATED_METRIC}\\{reason="missing-signature"\\} \\d+`));
  });

  /** Authorization, X-Amz-Date (and x-amz-content-sha256 when given) headers of a request signed for ADMIN. */
  async function signedHead(
    method: string,
    path: string,
    declaredHash: string | undefined,
  ): Promise<Record<string, string> & { authorization: string }> {
    const signer = new SignatureV4({
      credentials: ADMIN,
      region: "us-east-1",
      service: "elasticloadbalancing",
      sha256: Sha256,
      applyChecksum: false,
    });
    const headers: Record<string, string> = { host: `127.0.0.1:${port}` };
    if (declaredHash !== undefined) headers["x-amz-content-sha256"] = declaredHash;
    const signed = await signer.sign({
      method,
      protocol: "http:",
      hostname: "127.0.0.1",
      port,
      path,
      query: {},
      headers,
      body: "",
    });
    const out = { ...(signed.headers as Record<string, string>) };
    delete out.host;
    return out as Record<string, string> & { authorization: string };
  }
});

function amzNow(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

function today(): string {
  return amzNow().slice(0, 8);
}
