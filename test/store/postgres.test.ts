import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { APPEND_ONLY_TABLES, GENESIS_HASH, revisionHash } from "../../src/store/journal.js";
import { openStore } from "../../src/store/open.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import type { Store } from "../../src/store/store.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { storeConformance } from "./conformance.js";

let server: Promise<PostgresServer> | undefined;
const pgServer = (): Promise<PostgresServer> => {
  server ??= startPostgres();
  return server;
};
after(async () => {
  await (await server)?.stop();
});

let schemas = 0;
let conformanceSchema = "";
storeConformance("postgres", {
  open: async () => {
    conformanceSchema = `conformance_${++schemas}`;
    return PostgresStore.open((await pgServer()).url, { schema: conformanceSchema });
  },
  reopen: async () => PostgresStore.open((await pgServer()).url, { schema: conformanceSchema }),
  rawSql: (store, sql) => store.rawSql(sql),
  dropGuard: async (store) => {
    for (const table of APPEND_ONLY_TABLES)
      await store.rawSql(`DROP TRIGGER IF EXISTS ${table}_append_only ON ${table}`);
  },
});

/** The grants docs/OPERATIONS.md gives a role that runs Ballast but cannot edit the journal. */
const LEAST_PRIVILEGE_GRANTS = [
  "GRANT USAGE ON SCHEMA least_privilege TO ballast_app",
  "GRANT SELECT, INSERT ON revisions, versions, compactions, audit TO ballast_app",
  "GRANT USAGE ON SEQUENCE audit_id_seq TO ballast_app",
  "GRANT SELECT, INSERT, UPDATE, DELETE ON current, agent_status TO ballast_app",
  "GRANT SELECT, UPDATE ON journal_lock TO ballast_app",
];

async function assertChain(store: Store): Promise<void> {
  const all = await store.revisions(0);
  assert.deepEqual(
    all.map((r) => r.number),
    Array.from({ length: all.length }, (_, i) => i + 1),
    "revision numbers are gap-free from 1",
  );
  let prev = GENESIS_HASH;
  for (const r of all) {
    assert.equal(r.prevHash, prev);
    const changes = (await store.changes(r.number - 1, r.number)).map((c) => ({
      kind: c.kind,
      key: c.key,
      doc: c.doc,
    }));
    assert.equal(
      revisionHash(r.prevHash, r.number, r.time, r, changes),
      r.hash,
      `hash of revision ${r.number}`,
    );
    prev = r.hash;
  }
}

/** Opens the store in its own process and appends N instances to one load balancer. */
const WRITER = `
const { PostgresStore } = await import(process.env.STORE_MODULE);
// Small batches: each process's burst then spans many transactions, which the others' interleave with.
const store = await PostgresStore.open(process.env.PG_URL, { schema: process.env.PG_SCHEMA, maxBatch: 4 });
await new Promise((r) => setTimeout(r, Math.max(0, Number(process.env.START_AT) - Date.now())));
const id = process.env.WRITER_ID;
await Promise.all(
  Array.from({ length: Number(process.env.N) }, (_, i) =>
    store.mutate(
      { principal: id, sourceIp: "127.0.0.1", requestId: id + "-" + i, action: "RegisterInstancesWithLoadBalancer" },
      async (tx) => {
        const lb = await tx.get("loadBalancer", "shared");
        tx.put("loadBalancer", "shared", { ...lb, instances: [...lb.instances, id + "-" + i] });
      },
    ),
  ),
);
await store.close();
`;

function runWriter(env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`writer ${env.WRITER_ID} exited ${code}: ${stderr}`)),
    );
  });
}

describe("postgres store", () => {
  let url: string;
  before(async () => {
    url = (await pgServer()).url;
  });

  it("keeps revisions gap-free and loses no update with several writer processes", async () => {
    const schema = "processes";
    const N = 50;
    const writers = ["p1", "p2", "p3"];
    const store = await PostgresStore.open(url, { schema });
    try {
      await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
        tx.put("loadBalancer", "shared", aLoadBalancer({ name: "shared" }));
      });
      const storeModule = pathToFileURL(
        new URL("../../src/store/postgres/postgres-store.js", import.meta.url).pathname,
      ).href;
      const startAt = String(Date.now() + 1500);
      await Promise.all(
        writers.map((id) =>
          runWriter({
            STORE_MODULE: storeModule,
            PG_URL: url,
            PG_SCHEMA: schema,
            START_AT: startAt,
            WRITER_ID: id,
            N: String(N),
          }),
        ),
      );
      const lb = await store.get("loadBalancer", "shared");
      assert.ok(lb);
      assert.equal(lb.doc.instances.length, writers.length * N);
      assert.equal(new Set(lb.doc.instances).size, writers.length * N);
      for (const id of writers) {
        const mine: readonly string[] = lb.doc.instances.filter((i) => i.startsWith(`${id}-`));
        assert.deepEqual(
          mine,
          Array.from({ length: N }, (_, i) => `${id}-${i}`),
          `${id}'s appends in order`,
        );
      }
      assert.equal(await store.head(), writers.length * N + 1);
      assert.equal(lb.revision, writers.length * N + 1);
      // The writers really interleaved, or this test proves nothing about concurrency.
      const principals = (await store.revisions(1)).map((r) => r.principal);
      const switches = principals.filter((p, i) => i > 0 && p !== principals[i - 1]).length;
      assert.ok(switches > writers.length, `writers interleaved (${switches} switches)`);
      await assertChain(store);
    } finally {
      await store.close();
    }
  });

  it("creates its schema safely when several stores open at once", async () => {
    const stores = await Promise.all(
      Array.from({ length: 5 }, () => PostgresStore.open(url, { schema: "opened_together" })),
    );
    await Promise.all(
      stores.map((s, i) =>
        s.mutate(meta(), async (tx) => {
          tx.put("instance", `i-${i}`, { instanceId: `i-${i}`, address: "127.0.0.1", zone: "us-east-1a" });
        }),
      ),
    );
    assert.equal(await stores[0]?.head(), 5);
    await Promise.all(stores.map((s) => s.close()));
  });

  it("gives back exactly the document it hashed: key order, unicode, NUL, numbers", async () => {
    const store = await PostgresStore.open(url, { schema: "fidelity" });
    try {
      const doc = aLoadBalancer({
        name: "zz",
        tags: [
          { key: "b\u0000nul", value: "ünïcødé ✓ 𝄞" },
          { key: "a", value: '"quoted" \\ back' },
        ],
        healthCheck: {
          target: "TCP:1",
          interval: 0.5,
          timeout: 1e-7,
          unhealthyThreshold: 2,
          healthyThreshold: 10,
        },
      });
      const { revision } = await store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "zz", doc);
        tx.put("loadBalancer", "B", aLoadBalancer({ name: "B" }));
        tx.put("loadBalancer", "a", aLoadBalancer({ name: "a" }));
      });
      assert.ok(revision);
      assert.deepEqual((await store.get("loadBalancer", "zz"))?.doc, doc);
      assert.equal(JSON.stringify((await store.get("loadBalancer", "zz"))?.doc), JSON.stringify(doc));
      // Bytewise key order, as SQLite sorts, whatever the database locale.
      assert.deepEqual(
        (await store.list("loadBalancer")).map((c) => c.doc.name),
        ["B", "a", "zz"],
      );
      await assertChain(store);
    } finally {
      await store.close();
    }
  });

  it("runs under a role with no UPDATE or DELETE on the journal; compaction needs DELETE on versions", async () => {
    const schema = "least_privilege";
    // The owner (here the superuser) creates the schema once: tables, triggers, the lock row.
    const owner = await PostgresStore.open(url, { schema });
    const sql = (text: string): Promise<number> => owner.rawSql(text);
    try {
      await sql("DROP ROLE IF EXISTS ballast_app");
      await sql("CREATE ROLE ballast_app LOGIN");
      for (const grant of LEAST_PRIVILEGE_GRANTS) await sql(grant);
      const appUrl = url.replace("postgres://postgres@", "postgres://ballast_app@");
      const app = await PostgresStore.open(appUrl, { schema });
      try {
        const { revision } = await app.mutate(meta("CreateLoadBalancer"), async (tx) => {
          tx.put("loadBalancer", "web", aLoadBalancer());
        });
        assert.ok(revision, "appends with INSERT alone");
        await app.mutate(meta("RegisterInstancesWithLoadBalancer"), async (tx) => {
          tx.put("loadBalancer", "web", aLoadBalancer({ instances: ["i-1"] }));
        });
        await app.putAgentStatus({
          agentId: "a",
          zone: "us-east-1a",
          configRevision: 2,
          nodes: [],
          health: [],
          unexplained: [],
          time: new Date().toISOString(),
        });
        await app.appendAudit([
          {
            time: new Date().toISOString(),
            principal: "anonymous",
            action: "-",
            resource: "*",
            sourceIp: "127.0.0.1",
            requestId: "r",
            result: "InvalidClientTokenId",
            count: 1,
          },
        ]);
        assert.equal((await app.audit()).length, 1, "appends audit records with INSERT alone");
        for (const edit of [
          "DELETE FROM audit",
          "DELETE FROM versions",
          "UPDATE revisions SET principal = 'x'",
          "TRUNCATE compactions",
        ])
          await assert.rejects(app.rawSql(edit), /permission denied/, edit);
        // Compaction deletes versions: refused until the operator grants DELETE for it.
        await assert.rejects(app.compact(2, meta("CompactJournal")), /permission denied for table versions/);
        await sql("GRANT DELETE ON versions TO ballast_app");
        // With DELETE granted, the trigger still refuses anything but a compaction.
        await assert.rejects(app.rawSql("DELETE FROM versions"), /the journal is append-only/);
        const record = await app.compact(2, meta("CompactJournal"));
        assert.equal(record?.versionsRemoved, 1);
        await sql("REVOKE DELETE ON versions FROM ballast_app");
        assert.deepEqual((await app.get("loadBalancer", "web"))?.doc.instances, ["i-1"]);
      } finally {
        await app.close();
      }
    } finally {
      await owner.close();
    }
  });

  it("opens by spec: postgres URLs, sqlite paths, and a clear error otherwise", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ballast-open-"));
    const pgStore = await openStore(url, dataDir);
    assert.equal(pgStore.driver, "postgres");
    await pgStore.close();
    const alt = await openStore(url.replace(/^postgres:/, "postgresql:"), dataDir);
    assert.equal(alt.driver, "postgres");
    await alt.close();
    await assert.rejects(openStore("mysql://root:secret@db/ballast", "/tmp"), (e: Error) => {
      assert.match(e.message, /unknown store/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });
});
