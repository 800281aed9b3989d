/** The admin state API (history, show, diff, restore, verify, export/import, backups), signed with real SigV4. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import Database from "better-sqlite3";
import { createAdminHandler } from "../../src/api/admin/handler.js";
import { SigV4Authenticator } from "../../src/api/auth/sigv4.js";
import { SignedClient } from "../../src/cli/signed-client.js";
import type { Credential } from "../../src/model/types.js";
import { parseExport, serializeExport } from "../../src/store/ops/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, anInstance, meta } from "../support/builders.js";
import { ticketFor } from "../support/tickets.js";

const ADMIN: Credential = {
  accessKeyId: "AKIASTATEADMIN000001",
  secretAccessKey: "state-admin-secret-0123456789abcdefghij",
  principal: "alice",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};
const READER: Credential = {
  accessKeyId: "AKIASTATEREADER00001",
  secretAccessKey: "state-reader-secret-0123456789abcdefghi",
  principal: "rita",
  role: "reader",
  createdTime: "2026-01-01T00:00:00.000Z",
};

/** The second person of the two-person rule: approves the tickets alice's maintenance runs under. */
const APPROVER: Credential = {
  accessKeyId: "AKIASTATEAPPROVER001",
  secretAccessKey: "state-approver-secret-0123456789abcdefg",
  principal: "bob",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};

type Json = Record<string, unknown>;

describe("admin state API", () => {
  let dir: string;
  let store: SqliteStore;
  let server: Server;
  let url: string;
  let admin: SignedClient;
  let reader: SignedClient;
  let ticket = "";
  /** Revisions of the seeded history, by what they did. */
  const rev: Record<string, number> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-admin-state-"));
    store = new SqliteStore(join(dir, "ballast.db"));
    const authenticator = new SigV4Authenticator({
      lookup: async (id) => (await store.get("credential", id))?.doc,
      service: "elasticloadbalancing",
    });
    const handler = createAdminHandler({
      store,
      authenticator,
      logger: silentLogger,
      backupDir: join(dir, "backups"),
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    admin = new SignedClient(url, ADMIN);
    reader = new SignedClient(url, READER);

    const step = async (name: string, action: string, fn: Parameters<SqliteStore["mutate"]>[1]) => {
      const { revision } = await store.mutate(meta(action, "bob"), fn);
      rev[name] = revision?.number ?? -1;
      // Each revision gets its own millisecond, so "the state at this revision's time" is that revision.
      await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await step("keys", "CreateCredential", async (tx) => {
      tx.put("credential", ADMIN.accessKeyId, ADMIN);
      tx.put("credential", READER.accessKeyId, READER);
      tx.put("credential", APPROVER.accessKeyId, APPROVER);
    });
    await step("web", "CreateLoadBalancer", async (tx) => {
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
      tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }));
    });
    await step("api", "CreateLoadBalancer", async (tx) =>
      tx.put("loadBalancer", "api", aLoadBalancer({ name: "api" })),
    );
    await step("webListener", "CreateLoadBalancerListeners", async (tx) => {
      const lb = aLoadBalancer({ name: "web", instances: ["i-1"] });
      tx.put("loadBalancer", "web", {
        ...lb,
        listeners: [
          ...lb.listeners,
          { protocol: "TCP", loadBalancerPort: 443, instanceProtocol: "TCP", instancePort: 8443 },
        ],
      });
    });
    await step("deleteWeb", "DeleteLoadBalancer", async (tx) => tx.delete("loadBalancer", "web"));
    // Restores and imports are maintenance: alice runs them under a ticket bob approved.
    ticket = await ticketFor(url, ADMIN, APPROVER);
    admin = new SignedClient(url, ADMIN, "us-east-1", { ticket });
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(client: SignedClient, method: string, path: string, body?: unknown) {
    const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const res = await client.send(
      method,
      `/admin/v1/state${path}`,
      text,
      text ? "application/json" : undefined,
    );
    return { status: res.status, text: res.body, json: JSON.parse(res.body) as Json };
  }

  const errorCode = (json: Json): string | undefined => (json.error as { code?: string } | undefined)?.code;

  test("history lists revisions newest first with who, when, from where and why", async () => {
    const { status, json } = await call(admin, "GET", "/history");
    assert.equal(status, 200);
    const revisions = json.revisions as Json[];
    assert.deepEqual(
      revisions.map((r) => r.number),
      [rev.deleteWeb, rev.webListener, rev.api, rev.web, rev.keys],
    );
    const first = revisions[0] as Json;
    assert.equal(first.action, "DeleteLoadBalancer");
    assert.equal(first.principal, "bob");
    for (const field of ["time", "sourceIp", "requestId"]) assert.ok(field in first, field);
    assert.ok(!("hash" in first));

    const page = await call(admin, "GET", `/history?limit=2&before=${rev.deleteWeb}`);
    assert.deepEqual(
      (page.json.revisions as Json[]).map((r) => r.number),
      [rev.webListener, rev.api],
    );
    assert.equal(page.json.next, rev.api);
  });

  test("history --lb lists only the revisions that touched that load balancer, with the change", async () => {
    const { json } = await call(reader, "GET", "/history?lb=web");
    const revisions = json.revisions as Json[];
    assert.deepEqual(
      revisions.map((r) => [r.number, r.change]),
      [
        [rev.deleteWeb, "deleted"],
        [rev.webListener, "modified"],
        [rev.web, "created"],
      ],
    );
    const none = await call(admin, "GET", "/history?lb=never-was");
    assert.equal(none.status, 400);
    assert.equal(errorCode(none.json), "LoadBalancerNotFound");
    const bad = await call(admin, "GET", "/history?limit=0");
    assert.equal(errorCode(bad.json), "InvalidParameterValue");
  });

  test("show returns the whole state at a revision or a time, without credential secrets", async () => {
    const at = await call(reader, "GET", `/show?at=${rev.webListener}`);
    assert.equal(at.status, 200);
    assert.equal(at.json.revision, rev.webListener);
    assert.deepEqual(
      (at.json.loadBalancers as Json[]).map((lb) => lb.name),
      ["api", "web"],
    );
    assert.deepEqual(
      (at.json.instances as Json[]).map((i) => i.instanceId),
      ["i-1"],
    );
    const creds = at.json.credentials as Json[];
    assert.equal(creds.length, 3);
    assert.ok(creds.every((c) => !("secretAccessKey" in c)));
    assert.ok(!at.text.includes(ADMIN.secretAccessKey));

    const time = (await store.revision(rev.api ?? 0))?.time ?? "";
    const byTime = await call(admin, "GET", `/show?at=${encodeURIComponent(time)}`);
    assert.equal(byTime.json.revision, rev.api);
    const head = await call(admin, "GET", "/show");
    assert.deepEqual(
      (head.json.loadBalancers as Json[]).map((lb) => lb.name),
      ["api"],
    );
    const missing = await call(admin, "GET", "/show?at=9999");
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.json), "NotFound");
    const nonsense = await call(admin, "GET", "/show?at=yesterday");
    assert.equal(errorCode(nonsense.json), "ValidationError");
  });

  test("diff gives lines and the structured diff", async () => {
    const { status, json } = await call(reader, "GET", `/diff?from=${rev.webListener}&to=${rev.deleteWeb}`);
    assert.equal(status, 200);
    assert.deepEqual(json.lines, ["load balancer web: deleted"]);
    const diff = json.diff as { entities: Json[] };
    assert.deepEqual(
      diff.entities.map((e) => [e.kind, e.key, e.change]),
      [["loadBalancer", "web", "deleted"]],
    );
    const listener = await call(admin, "GET", `/diff?from=${rev.api}&to=${rev.webListener}`);
    assert.deepEqual(listener.json.lines, ["load balancer web: listener TCP:443 → TCP:8443 added"]);
    const noFrom = await call(admin, "GET", "/diff");
    assert.equal(errorCode(noFrom.json), "MissingParameter");
  });

  test("restore to a revision that does not exist is the library's error and changes nothing", async () => {
    const head = await store.head();
    const missing = await call(admin, "POST", "/restore", { to: head + 10 });
    assert.equal(missing.status, 404);
    assert.equal(errorCode(missing.json), "NotFound");
    const typo = await call(admin, "POST", "/restore", { to: rev.webListener, loadBalancer: ["web"] });
    assert.equal(typo.status, 400);
    assert.match((typo.json.error as { message: string }).message, /Unknown field 'loadBalancer'/);
    const empty = await call(admin, "POST", "/restore", { to: 0 });
    assert.equal(errorCode(empty.json), "ValidationError");
    const unknownLb = await call(admin, "POST", "/restore", { to: rev.webListener, loadBalancers: ["nope"] });
    assert.equal(errorCode(unknownLb.json), "LoadBalancerNotFound");
    assert.equal(await store.head(), head);
  });

  test("a reader can read but cannot restore, import, export or back up", async () => {
    const head = await store.head();
    const exported = (await call(admin, "GET", "/export")).text;
    for (const [method, path, body] of [
      ["POST", "/restore", { to: rev.webListener }],
      ["POST", "/import", exported],
      ["GET", "/export", undefined],
      ["POST", "/backups", undefined],
    ] as const) {
      const res = await call(reader, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(errorCode(res.json), "AccessDenied");
    }
    assert.equal(await store.head(), head);
    assert.equal((await call(reader, "GET", "/verify")).status, 200);
  });

  test("restore brings a deleted load balancer back as a new revision, and can itself be undone", async () => {
    const before = await store.head();
    const { status, json } = await call(admin, "POST", "/restore", {
      to: rev.webListener,
      loadBalancers: ["web"],
    });
    assert.equal(status, 200);
    assert.equal(json.target, rev.webListener);
    const revision = json.revision as Json;
    assert.equal(revision.number, before + 1);
    assert.equal(revision.action, "RestoreState");
    assert.equal(revision.principal, "alice");
    assert.deepEqual(json.lines, ["load balancer web: created"]);
    assert.equal((await store.get("loadBalancer", "web"))?.doc.listeners.length, 2);
    const recorded = await store.revision(before + 1);
    assert.equal(recorded?.action, "RestoreState");
    assert.equal(recorded?.sourceIp, "127.0.0.1");
    assert.equal(recorded?.requestId, revision.requestId);

    const undo = await call(admin, "POST", "/restore", { to: String(before) });
    assert.equal(undo.status, 200);
    assert.deepEqual(undo.json.lines, ["load balancer web: deleted"]);
    assert.equal(await store.get("loadBalancer", "web"), undefined);
    const again = await call(admin, "POST", "/restore", { to: before });
    assert.equal(again.json.revision, null);
    assert.deepEqual(again.json.lines, []);
  });

  test("verify reports ok up to the head", async () => {
    const ok = await call(reader, "GET", "/verify");
    assert.equal(ok.status, 200);
    assert.equal(ok.json.ok, true);
    assert.equal(ok.json.head, await store.head());
  });

  test("export, then import after a change, round-trips as one ImportState revision", async () => {
    const res = await call(admin, "GET", "/export");
    assert.equal(res.status, 200);
    const doc = parseExport(res.text);
    assert.equal(doc.revision, await store.head());
    await store.mutate(meta("CreateLoadBalancer"), async (tx) =>
      tx.put("loadBalancer", "late", aLoadBalancer({ name: "late" })),
    );
    await store.mutate(meta("DeleteLoadBalancer"), async (tx) => tx.delete("loadBalancer", "api"));
    const head = await store.head();

    const imported = await call(admin, "POST", "/import", res.text);
    assert.equal(imported.status, 200);
    assert.equal(imported.json.exportRevision, doc.revision);
    assert.equal((imported.json.revision as Json).action, "ImportState");
    assert.equal((imported.json.revision as Json).number, head + 1);
    assert.deepEqual([...(imported.json.lines as string[])].sort(), [
      "load balancer api: created",
      "load balancer late: deleted",
    ]);
    assert.deepEqual(
      (await store.list("loadBalancer")).map((c) => c.doc.name),
      ["api"],
    );
    const same = await call(admin, "POST", "/import", res.text);
    assert.equal(same.json.revision, null);
  });

  test("a corrupted, truncated or checksum-mismatched import is refused with 400 and changes nothing", async () => {
    const text = (await call(admin, "GET", "/export")).text;
    const doc = parseExport(text);
    const tampered = serializeExport({ ...doc, entities: doc.entities.slice(1) });
    const head = await store.head();
    for (const [what, body, reason] of [
      ["truncated", text.slice(0, Math.floor(text.length / 2)), /not valid JSON/],
      ["corrupted", text.replace('"api"', '"apX"'), /MAC mismatch/],
      ["MAC mismatch", tampered, /MAC mismatch/],
      ["not an export", JSON.stringify({ hello: "world" }), /format/],
    ] as const) {
      const res = await call(admin, "POST", "/import", body);
      assert.equal(res.status, 400, what);
      assert.equal(errorCode(res.json), "ValidationError", what);
      assert.match((res.json.error as { message: string }).message, reason, what);
    }
    assert.equal(await store.head(), head);
  });

  test("backups: create one now, then list it", async () => {
    const empty = await call(reader, "GET", "/backups");
    assert.deepEqual(empty.json.backups, []);
    const created = await call(admin, "POST", "/backups");
    assert.equal(created.status, 200);
    const backup = created.json.backup as Json;
    assert.equal(backup.revision, await store.head());
    const listed = await call(reader, "GET", "/backups");
    assert.deepEqual(
      (listed.json.backups as Json[]).map((b) => b.file),
      [backup.file],
    );
  });

  test("Accept: application/x-ndjson streams progress lines then the result; early errors keep their status", async () => {
    const signer = new SignatureV4({
      credentials: ADMIN,
      region: "us-east-1",
      service: "elasticloadbalancing",
      sha256: Sha256,
    });
    const ndjson = async (method: string, path: string, body = "") => {
      const u = new URL(`/admin/v1/state${path}`, url);
      const signed = await signer.sign({
        method,
        protocol: "http:",
        hostname: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        query: {},
        headers: {
          host: u.host,
          "x-ballast-ticket": ticket,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body,
      });
      const res = await fetch(u, {
        method,
        headers: { ...signed.headers, accept: "application/x-ndjson" },
        ...(method === "GET" ? {} : { body }),
      });
      return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
    };
    const verify = await ndjson("GET", "/verify");
    assert.equal(verify.status, 200);
    assert.equal(verify.type, "application/x-ndjson");
    const lines = verify.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Json);
    const progress = lines.filter((l) => "progress" in l).map((l) => l.progress as Json);
    assert.ok(progress.length >= 1);
    assert.equal(progress[0]?.phase, "verify");
    assert.equal((lines.at(-1) as { result: Json }).result.ok, true);

    const bad = await ndjson("POST", "/restore", JSON.stringify({ to: 10_000 }));
    assert.equal(bad.status, 404);
    assert.equal(errorCode(JSON.parse(bad.text) as Json), "NotFound");

    const restore = await ndjson(
      "POST",
      "/restore",
      JSON.stringify({ to: rev.webListener, loadBalancers: ["web"] }),
    );
    assert.equal(restore.status, 200);
    const last = JSON.parse(restore.text.trim().split("\n").at(-1) ?? "{}") as { result: Json };
    assert.deepEqual(last.result.lines, ["load balancer web: created"]);
  });

  test("verify names the first divergence when state was deleted behind the journal's back", async () => {
    const db = new Database(join(dir, "ballast.db"));
    try {
      db.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'web'").run();
    } finally {
      db.close();
    }
    const res = await call(admin, "GET", "/verify");
    assert.equal(res.status, 200);
    assert.equal(res.json.ok, false);
    const first = res.json.firstDivergence as Json;
    assert.equal(first.type, "missing-from-current");
    assert.equal(first.key, "web");
  });
});
