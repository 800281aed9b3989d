import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Authorizer } from "../../src/api/auth/authorizer.js";
import { BOOTSTRAP_FILE, ensureBootstrapAdmin, twoPersonHint } from "../../src/api/auth/bootstrap.js";
import { BallastError } from "../../src/model/errors.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { meta } from "../support/builders.js";

const dirs: string[] = [];
const stores: SqliteStore[] = [];

async function fresh(): Promise<{ dir: string; store: SqliteStore }> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-bootstrap-"));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, "state.db"));
  stores.push(store);
  return { dir, store };
}

after(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The AWS shared-credentials format, parsed the simple way the SDKs do. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    const head = /^\[([^\]]+)\]$/.exec(line.trim());
    if (head?.[1]) {
      section = {};
      out[head[1]] = section;
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line.trim());
    if (kv?.[1] && kv[2] !== undefined && section) section[kv[1]] = kv[2];
  }
  return out;
}

describe("ensureBootstrapAdmin", () => {
  test("generates an admin, writes a 0600 credentials file, and stores it with its revision meta", async () => {
    const { dir, store } = await fresh();
    const result = await ensureBootstrapAdmin({ store, dataDir: dir, env: {}, logger: silentLogger });
    assert.equal(result.created, true);
    assert.match(result.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(result.credentialsFile, join(dir, BOOTSTRAP_FILE));

    const st = await stat(join(dir, BOOTSTRAP_FILE));
    assert.equal(st.mode & 0o777, 0o600);
    const ini = parseIni(await readFile(join(dir, BOOTSTRAP_FILE), "utf8"));
    assert.equal(ini.ballast?.aws_access_key_id, result.accessKeyId);
    const secret = ini.ballast?.aws_secret_access_key ?? "";
    assert.equal(secret.length, 40);

    const stored = await store.get("credential", result.accessKeyId);
    assert.equal(stored?.doc.secretAccessKey, secret);
    // A new installation's first key has no legacy role: its principal holds the administrator policy.
    assert.equal(stored?.doc.role, undefined);
    assert.equal(stored?.doc.principal, "admin");
    assert.deepEqual((await store.get("principal", "admin"))?.doc.policies, ["BallastAdministrator"]);
    const rev = await store.revision(stored?.revision ?? 0);
    assert.equal(rev?.principal, "bootstrap");
    assert.equal(rev?.action, "BootstrapAdmin");
    assert.equal(rev?.sourceIp, "local");
    assert.match(rev?.requestId ?? "", /^[0-9a-f-]{36}$/);
  });

  test("a second start changes nothing and points at the existing file", async () => {
    const { dir, store } = await fresh();
    const first = await ensureBootstrapAdmin({ store, dataDir: dir, env: {}, logger: silentLogger });
    const text = await readFile(join(dir, BOOTSTRAP_FILE), "utf8");
    const head = await store.head();
    const second = await ensureBootstrapAdmin({ store, dataDir: dir, env: {}, logger: silentLogger });
    assert.deepEqual(second, {
      accessKeyId: first.accessKeyId,
      created: false,
      credentialsFile: first.credentialsFile,
    });
    assert.equal(await store.head(), head);
    assert.equal(await readFile(join(dir, BOOTSTRAP_FILE), "utf8"), text);
  });

  test("takes the first admin from the environment, writing no file", async () => {
    const { dir, store } = await fresh();
    const env = {
      BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "AKIAENVIRONMENT00001",
      BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "a-secret-of-enough-length",
    };
    const result = await ensureBootstrapAdmin({ store, dataDir: dir, env, logger: silentLogger });
    assert.deepEqual(result, { accessKeyId: "AKIAENVIRONMENT00001", created: true });
    await assert.rejects(stat(join(dir, BOOTSTRAP_FILE)), { code: "ENOENT" });
    const stored = await store.get("credential", "AKIAENVIRONMENT00001");
    assert.equal(stored?.doc.secretAccessKey, "a-secret-of-enough-length");
    assert.deepEqual((await store.get("principal", "admin"))?.doc.policies, ["BallastAdministrator"]);

    const again = await ensureBootstrapAdmin({ store, dataDir: dir, env, logger: silentLogger });
    assert.deepEqual(again, { accessKeyId: "AKIAENVIRONMENT00001", created: false });
  });

  test("rejects bad environment values and stores nothing", async () => {
    const { dir, store } = await fresh();
    const bad: NodeJS.ProcessEnv[] = [
      {
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "akia-lowercase-000000",
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "x".repeat(20),
      },
      { BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "AKIASHORT", BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "x".repeat(20) },
      {
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "A".repeat(129),
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "x".repeat(20),
      },
      {
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "AKIAENVIRONMENT00001",
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "short",
      },
      { BALLAST_BOOTSTRAP_ACCESS_KEY_ID: "AKIAENVIRONMENT00001" },
      { BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: "x".repeat(20) },
    ];
    for (const env of bad) {
      await assert.rejects(
        ensureBootstrapAdmin({ store, dataDir: dir, env, logger: silentLogger }),
        BallastError,
      );
    }
    assert.equal(await store.head(), 0);
    await assert.rejects(stat(join(dir, BOOTSTRAP_FILE)), { code: "ENOENT" });
  });
});

describe("the two-person hint at first start", () => {
  test("says how to create a second principal while only the bootstrap administrator may approve", async () => {
    const { dir, store } = await fresh();
    await ensureBootstrapAdmin({ store, dataDir: dir, env: {}, logger: silentLogger });
    const hint = await twoPersonHint(store, new Authorizer(store));
    assert.match(hint ?? "", /only one principal here can approve/);
    assert.match(hint ?? "", /ballast principals create approver --policy BallastApprover/);
    assert.match(hint ?? "", /--break-glass --reason TEXT/);
    await store.mutate(meta("PutPrincipal"), async (tx) =>
      tx.put("principal", "approver", {
        name: "approver",
        createdTime: "2026-01-01T00:00:00.000Z",
        policies: ["BallastReadOnly"],
      }),
    );
    assert.ok(await twoPersonHint(store, new Authorizer(store)), "a reader cannot approve");
    await store.mutate(meta("PutPrincipal"), async (tx) =>
      tx.put("principal", "approver", {
        name: "approver",
        createdTime: "2026-01-01T00:00:00.000Z",
        policies: ["BallastApprover"],
      }),
    );
    assert.equal(await twoPersonHint(store, new Authorizer(store)), undefined);
  });
});
