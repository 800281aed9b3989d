/** The admin API's journal compaction (POST /state/compact, GET /state/compactions), signed with real SigV4. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, mock, test } from "node:test";
import { createAdminHandler } from "../../src/api/admin/handler.js";
import { SigV4Authenticator } from "../../src/api/auth/sigv4.js";
import { SignedClient } from "../../src/cli/signed-client.js";
import type { Credential } from "../../src/model/types.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { ticketFor } from "../support/tickets.js";

const ADMIN: Credential = {
  accessKeyId: "AKIACOMPACTADMIN0001",
  secretAccessKey: "compact-admin-secret-0123456789abcdefgh",
  principal: "alice",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};
const READER: Credential = {
  accessKeyId: "AKIACOMPACTREADER001",
  secretAccessKey: "compact-reader-secret-0123456789abcdefg",
  principal: "rita",
  role: "reader",
  createdTime: "2026-01-01T00:00:00.000Z",
};
const APPROVER: Credential = {
  accessKeyId: "AKIACOMPACTAPPROVER1",
  secretAccessKey: "compact-approver-secret-0123456789abcde",
  principal: "bob",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};
const DAY = 24 * 60 * 60 * 1000;
const MAIN_JS = resolve(import.meta.dirname, "../../src/cli/main.js");

type Json = Record<string, unknown>;

describe("admin state API: compaction", () => {
  let dir: string;
  let store: SqliteStore;
  let server: Server;
  let url: string;
  let admin: SignedClient;
  let reader: SignedClient;
  let ticket = "";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-admin-compact-"));
    store = new SqliteStore(join(dir, "ballast.db"));
    // Revisions 1–4 committed 200, 150, 120 and 100 days ago, revision 5 ten days ago.
    const steps: [number, Parameters<SqliteStore["mutate"]>[1]][] = [
      [
        200,
        async (tx) => {
          tx.put("credential", ADMIN.accessKeyId, ADMIN);
          tx.put("credential", READER.accessKeyId, READER);
          tx.put("credential", APPROVER.accessKeyId, APPROVER);
          tx.put("loadBalancer", "web", aLoadBalancer({ name: "web" }));
        },
      ],
      [150, async (tx) => tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-1"] }))],
      [120, async (tx) => tx.put("loadBalancer", "tmp", aLoadBalancer({ name: "tmp" }))],
      [100, async (tx) => tx.delete("loadBalancer", "tmp")],
      [10, async (tx) => tx.put("loadBalancer", "web", aLoadBalancer({ name: "web", instances: ["i-2"] }))],
    ];
    for (const [daysAgo, fn] of steps) {
      mock.timers.enable({ apis: ["Date"], now: Date.now() - daysAgo * DAY });
      try {
        await store.mutate(meta("Seed", "bob"), fn);
      } finally {
        mock.timers.reset();
      }
    }
    const handler = createAdminHandler({
      store,
      authenticator: new SigV4Authenticator({
        lookup: async (id) => (await store.get("credential", id))?.doc,
        service: "elasticloadbalancing",
      }),
      logger: silentLogger,
      retentionDays: 110,
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Compaction purges history: alice compacts under a ticket bob approved.
    ticket = await ticketFor(url, ADMIN, APPROVER);
    admin = new SignedClient(url, ADMIN, "us-east-1", { ticket });
    reader = new SignedClient(url, READER);
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(client: SignedClient, method: string, path: string, body?: unknown) {
    const text = body === undefined ? "" : JSON.stringify(body);
    const res = await client.send(
      method,
      `/admin/v1/state${path}`,
      text,
      text ? "application/json" : undefined,
    );
    return { status: res.status, json: JSON.parse(res.body) as Json };
  }
  const error = (json: Json) => json.error as { code: string; message: string };

  test("a reader cannot compact, and every refusal is a ValidationError that removes nothing", async () => {
    const denied = await call(reader, "POST", "/compact", { through: 3, ticket: "CHG-1" });
    assert.equal(denied.status, 403);
    assert.equal(error(denied.json).code, "AccessDenied");

    const noTicket = await call(new SignedClient(url, ADMIN), "POST", "/compact", { through: 3 });
    assert.equal(noTicket.status, 403);
    assert.equal(error(noTicket.json).code, "ChangeTicketRequired");
    assert.match(error(noTicket.json).message, /ballast:CompactJournal purges history/);
    // 100 days old is within this control plane's 110-day retention.
    const young = await call(admin, "POST", "/compact", { through: 4, ticket: "CHG-1" });
    assert.equal(young.status, 400);
    assert.match(error(young.json).message, /retention period of 110 days/);
    const typo = await call(admin, "POST", "/compact", { revision: 3, ticket: "CHG-1" });
    assert.equal(error(typo.json).code, "ValidationError");
    assert.equal((await call(reader, "GET", "/compactions")).json.compactedThrough, 0);
  });

  test("compacts, lists the record, and refuses reads below it", async () => {
    const { status, json } = await call(admin, "POST", "/compact", { olderThanDays: 115, ticket: "CHG-9" });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.through, 3);
    assert.equal(json.compacted, true);
    const record = json.compaction as Json;
    assert.equal(record.ticket, ticket, "the approved ticket the call carried, not the body's word");
    assert.equal(record.principal, "alice");
    assert.equal(record.versionsRemoved, 1);

    const list = await call(reader, "GET", "/compactions");
    assert.equal(list.json.compactedThrough, 3);
    assert.deepEqual(list.json.compactions, [record]);

    const show = await call(reader, "GET", "/show?at=2");
    assert.equal(show.status, 400);
    assert.equal(error(show.json).message, "revision 2 was compacted (history is kept from revision 3)");
    const restore = await call(admin, "POST", "/restore", { to: 2 });
    assert.equal(restore.status, 400);
    assert.equal((await call(reader, "GET", "/show?at=3")).status, 200);

    const verify = await call(reader, "GET", "/verify");
    assert.equal(verify.json.ok, true);
    assert.equal(verify.json.linkCheckedOnly, 3);

    const again = await call(admin, "POST", "/compact", { through: 2, ticket: "CHG-10" });
    assert.equal(again.json.compacted, false);
    assert.deepEqual(again.json.compaction, record);
  });

  test("ballast state compact and compactions", async () => {
    const usage = await cli("compact", "--through", "3");
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--ticket/);
    const young = await cli("compact", "--through", "4", "--ticket", ticket);
    assert.equal(young.code, 1);
    assert.match(young.stderr, /ValidationError: .*retention period of 110 days/);
    const done = await cli("compact", "--through", "3", "--ticket", ticket);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /already compacted through revision 3/);
    const list = await cli("compactions");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^THROUGH\s+TIME\s+PRINCIPAL\s+TICKET\s+REMOVED/);
    assert.match(list.stdout, new RegExp(`\\n3\\s+\\S+\\s+alice\\s+${ticket}\\s+1\\s`));
    const verify = await cli("verify");
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /compacted through revision 3: 3 revisions link-checked only/);
  });

  function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [MAIN_JS, "state", ...args, "--endpoint", url],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: ADMIN.accessKeyId,
            AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
          },
        },
        (err, stdout, stderr) =>
          done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }
});
