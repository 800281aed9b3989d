/**
 * The console's static file server (src/api/console.ts) on a real socket: content types, caching,
 * the Content-Security-Policy, the app's routes answered with index.html, 404 for unknown files,
 * GET/HEAD only, and no path — raw, encoded or doubly encoded — that reads a file outside its root.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONSOLE_CSP, createConsoleHandler, isConsolePath, safeRelative } from "../../src/api/console.js";
import { silentLogger } from "../../src/util/logger.js";

const SECRET = "top-secret-outside-the-console-root";

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request with the path exactly as given (fetch would normalise `..` away before sending). */
function raw(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("console static files", () => {
  let dir: string;
  let server: Server;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-console-"));
    const root = join(dir, "console");
    mkdirSync(join(root, "assets"), { recursive: true });
    writeFileSync(join(root, "index.html"), "<!doctype html><title>Ballast console</title>");
    writeFileSync(join(root, "assets", "index-abc123.js"), "export const x = 1;");
    writeFileSync(join(root, "assets", "index-abc123.css"), "body{margin:0}");
    writeFileSync(join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    writeFileSync(join(root, ".env"), SECRET);
    writeFileSync(join(dir, "secret.txt"), SECRET);
    const handler = createConsoleHandler({ root, logger: silentLogger });
    server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves each file with its content type, the strict CSP and nosniff", async () => {
    const cases = [
      ["/console/", "text/html; charset=utf-8", "Ballast console"],
      ["/console/assets/index-abc123.js", "text/javascript; charset=utf-8", "export const x"],
      ["/console/assets/index-abc123.css", "text/css; charset=utf-8", "margin:0"],
      ["/console/favicon.svg", "image/svg+xml", "<svg"],
    ] as const;
    for (const [path, type, text] of cases) {
      const a = await raw(port, "GET", path);
      assert.equal(a.status, 200, path);
      assert.equal(a.headers["content-type"], type, path);
      assert.match(a.body, new RegExp(text), path);
      assert.equal(a.headers["content-security-policy"], CONSOLE_CSP);
      assert.match(CONSOLE_CSP, /^default-src 'self'/);
      assert.equal(a.headers["x-content-type-options"], "nosniff");
    }
  });

  it("caches hashed assets for a year and the page never", async () => {
    const asset = await raw(port, "GET", "/console/assets/index-abc123.js");
    assert.equal(asset.headers["cache-control"], "public, max-age=31536000, immutable");
    const page = await raw(port, "GET", "/console/load-balancers/web-1");
    assert.equal(page.status, 200);
    assert.equal(page.headers["cache-control"], "no-cache");
    assert.match(page.body, /Ballast console/, "an app route answers index.html");
  });

  it("redirects /console to /console/ and answers HEAD without a body", async () => {
    const r = await raw(port, "GET", "/console");
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, "/console/");
    const head = await raw(port, "HEAD", "/console/assets/index-abc123.js");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String("export const x = 1;".length));
    assert.equal(head.body, "");
  });

  it("answers 404 for an unknown file and 405 for anything but GET and HEAD", async () => {
    const missing = await raw(port, "GET", "/console/assets/nope.js");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers["content-security-policy"], CONSOLE_CSP);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const r = await raw(port, method, "/console/");
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, "GET, HEAD");
    }
  });

  it("never reads a file outside its directory, nor a dot-file inside it", async () => {
    const attempts = [
      "/console/../secret.txt",
      "/console/assets/../../secret.txt",
      "/console/%2e%2e/secret.txt",
      "/console/%2E%2E%2Fsecret.txt",
      "/console/..%2fsecret.txt",
      "/console/..%5csecret.txt",
      "/console/%252e%252e/secret.txt",
      "/console/..\\secret.txt",
      "/console/assets/%00.js",
      "/console/.env",
      "/console//etc/passwd",
      "/console/%2fetc%2fpasswd",
      "/console/%ZZ.js",
    ];
    for (const path of attempts) {
      const r = await raw(port, "GET", path);
      assert.ok(r.status === 400 || r.status === 404, `${path} → ${r.status}`);
      assert.doesNotMatch(r.body, new RegExp(SECRET), path);
    }
  });

  it("keeps only plain relative names (unit)", () => {
    assert.equal(safeRelative(""), "index.html");
    assert.equal(safeRelative("assets/a.js"), "assets/a.js");
    assert.equal(safeRelative("state/"), "state");
    assert.equal(safeRelative("a/../b.js"), undefined);
    assert.equal(safeRelative("%2e%2e/x"), undefined);
    assert.equal(safeRelative("a%2fb"), undefined);
    assert.equal(isConsolePath("/console"), true);
    assert.equal(isConsolePath("/console/x?y=1"), true);
    assert.equal(isConsolePath("/consoles"), false);
    assert.equal(isConsolePath("/"), false);
  });
});
