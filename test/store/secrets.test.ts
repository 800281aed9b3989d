/**
 * Secrets never rest in plain text: an access key's secret and a certificate's private key are
 * sealed in the journal's versions and the current state (SQLite file and WAL; PostgreSQL rows),
 * in backups and exports; the store still reads them back plain, the chain still verifies, rows
 * written before encryption stay readable and are sealed when next written.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import type { Certificate, Credential, EntityKind, EntityTypes } from "../../src/model/types.js";
import { openStore } from "../../src/store/open.js";
import { createBackup } from "../../src/store/ops/backups.js";
import { writeExportFile } from "../../src/store/ops/export.js";
import { verifyJournal } from "../../src/store/ops/verify.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { DocCodec } from "../../src/store/secrets/codec.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { SecretKey } from "../../src/util/secret-key.js";
import { meta } from "../support/builders.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";

const SECRET = "KNOWNxSECRETxACCESSxKEYx0123456789abcdef";
const PEM_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCknownprivatekeyline";

const credential = (secretAccessKey = SECRET, principal = "alice"): Credential => ({
  accessKeyId: "AKIASECRETTEST000001",
  secretAccessKey,
  principal,
  role: "admin",
  createdTime: "2026-11-23T00:00:00.000Z",
});
const certificate: Certificate = {
  arn: "arn:aws:iam::000000000000:server-certificate/web",
  name: "web",
  certificateBody: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  privateKey: `-----BEGIN PRIVATE KEY-----\n${PEM_LINE}\n-----END PRIVATE KEY-----\n`,
  uploadedTime: "2026-11-23T00:00:00.000Z",
  notAfter: "2027-11-23T00:00:00.000Z",
  subject: "CN=web",
};

/** The codec of a Ballast from before encryption: stores secrets as they are. */
class PlainCodec extends DocCodec {
  override seal<K extends EntityKind>(_kind: K, _key: string, doc: EntityTypes[K]): EntityTypes[K] {
    return doc;
  }
}

interface Driver {
  readonly name: string;
  open(codec: DocCodec): Promise<Store>;
  /** Everything the database holds, as text (SQLite: the file, its WAL and shm; PostgreSQL: the rows). */
  raw(): Promise<string>;
  /** Files created for the store, each to be mode 0600. */
  files(): string[];
}

let server: Promise<PostgresServer> | undefined;
after(async () => {
  await (await server)?.stop();
});

function sqlite(): Driver {
  const dir = mkdtempSync(join(tmpdir(), "ballast-secrets-"));
  const file = join(dir, "ballast.db");
  return {
    name: "sqlite",
    open: async (codec) => new SqliteStore(file, { codec }),
    raw: async () =>
      [file, `${file}-wal`, `${file}-shm`]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString("latin1"))
        .join("\n"),
    files: () => [file, `${file}-wal`, `${file}-shm`],
  };
}

let schemas = 0;
function postgres(): Driver {
  const schema = `secrets_${++schemas}`;
  const url = async (): Promise<string> => {
    server ??= startPostgres();
    return (await server).url;
  };
  return {
    name: "postgres",
    open: async (codec) => PostgresStore.open(await url(), { schema, codec }),
    raw: async () => {
      const client = new pg.Client({ connectionString: await url() });
      await client.connect();
      try {
        const res = await client.query<{ doc: string | null }>(
          `SELECT doc FROM ${schema}.versions UNION ALL SELECT doc FROM ${schema}.current`,
        );
        return res.rows.map((r) => r.doc ?? "").join("\n");
      } finally {
        await client.end();
      }
    },
    files: () => [],
  };
}

for (const make of [sqlite, postgres]) {
  describe(`secrets at rest: ${make.name}`, () => {
    it("seals secrets in the journal and the current state, reads them plain, verifies the chain", async () => {
      const d = make();
      const codec = new DocCodec(SecretKey.generate("test"));
      const store = await d.open(codec);
      try {
        await store.mutate(meta("CreateCredential"), async (tx) => {
          tx.put("credential", credential().accessKeyId, credential());
          tx.put("certificate", certificate.arn, certificate);
        });
        // A second version of each, and an unchanged put that must append nothing.
        await store.mutate(meta("Rotate"), async (tx) => {
          tx.put("credential", credential().accessKeyId, credential(SECRET, "alice2"));
        });
        const head = await store.head();
        const same = await store.mutate(meta("Same"), async (tx) => {
          tx.put("certificate", certificate.arn, certificate);
        });
        assert.equal(same.revision, undefined, "an equal document appends nothing, sealed or not");
        assert.equal(await store.head(), head);

        const raw = await d.raw();
        assert.ok(raw.length > 0);
        assert.ok(!raw.includes(SECRET), "the access key's secret is not in the database");
        assert.ok(!raw.includes(PEM_LINE), "the private key is not in the database");
        assert.ok(raw.includes("enc:v1:"));

        assert.equal((await store.get("credential", credential().accessKeyId))?.doc.secretAccessKey, SECRET);
        assert.deepEqual((await store.list("certificate"))[0]?.doc, certificate);
        const history = await store.history("credential", credential().accessKeyId);
        assert.equal((history[0]?.doc as Credential | undefined)?.secretAccessKey, SECRET);
        assert.equal((await verifyJournal(store)).ok, true);
        // Compaction's digest is over the plain documents too.
        await store.compact(1, meta("CompactJournal"));
        assert.equal((await verifyJournal(store)).ok, true);
        for (const f of d.files()) if (existsSync(f)) assert.equal(statSync(f).mode & 0o777, 0o600, f);

        // Backups and exports hold them sealed too.
        const out = mkdtempSync(join(tmpdir(), "ballast-secrets-out-"));
        const backup = await createBackup(store, join(out, "backups"));
        await writeExportFile(store, join(out, "export.json"));
        for (const f of [backup.path, join(out, "export.json")]) {
          const text = readFileSync(f, "utf8");
          assert.ok(!text.includes(SECRET), `${f} holds no secret`);
          assert.ok(!text.includes(PEM_LINE), `${f} holds no private key`);
          assert.equal(statSync(f).mode & 0o777, 0o600, f);
        }
      } finally {
        await store.close();
      }
    });

    it("reads rows written before encryption, and seals them when next written", async () => {
      const d = make();
      const key = SecretKey.generate("test");
      const old = await d.open(new PlainCodec(key));
      await old.mutate(meta("CreateCredential"), async (tx) => {
        tx.put("credential", credential().accessKeyId, credential());
      });
      await old.close();
      assert.ok((await d.raw()).includes(SECRET), "the old version wrote it plain");

      const store = await d.open(new DocCodec(key));
      try {
        assert.equal((await store.get("credential", credential().accessKeyId))?.doc.secretAccessKey, SECRET);
        assert.equal((await verifyJournal(store)).ok, true);
        await store.mutate(meta("Rotate"), async (tx) => {
          tx.put(
            "credential",
            credential().accessKeyId,
            credential("NEWxSECRETx0123456789abcdefghijklmnopq"),
          );
        });
        const raw = await d.raw();
        assert.ok(!raw.includes("NEWxSECRET"), "the new version is sealed");
        assert.equal((await verifyJournal(store)).ok, true);
      } finally {
        await store.close();
      }
      // With another key, a sealed value is refused, naming the key it needs.
      const wrong = await d.open(new DocCodec(SecretKey.generate("other")));
      try {
        await assert.rejects(wrong.get("credential", credential().accessKeyId), /cannot decrypt/);
      } finally {
        await wrong.close();
      }
    });
  });
}

describe("the data directory's secret key", () => {
  it("is created 0600 on first start and used again after", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-key-"));
    const saved = process.env.BALLAST_SECRET_KEY;
    delete process.env.BALLAST_SECRET_KEY;
    try {
      const first = await openStore("sqlite", dir);
      await first.mutate(meta(), async (tx) => tx.put("credential", credential().accessKeyId, credential()));
      await first.close();
      assert.equal(statSync(join(dir, "secret.key")).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, "ballast.db")).mode & 0o777, 0o600);
      const again = await openStore("sqlite", dir);
      assert.equal((await again.get("credential", credential().accessKeyId))?.doc.secretAccessKey, SECRET);
      await again.close();
    } finally {
      if (saved !== undefined) process.env.BALLAST_SECRET_KEY = saved;
    }
  });

  it("comes from BALLAST_SECRET_KEY when set, and a malformed one is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-key-"));
    const given = SecretKey.generate();
    const base64 = Buffer.from(given.fingerprint.padEnd(32, "x")).toString("base64");
    const fromEnv = SecretKey.load(dir, { BALLAST_SECRET_KEY: base64 });
    assert.equal(fromEnv.source, "BALLAST_SECRET_KEY");
    assert.ok(!existsSync(join(dir, "secret.key")), "no key file when the environment gives the key");
    assert.throws(() => SecretKey.load(dir, { BALLAST_SECRET_KEY: "dG9vIHNob3J0" }), /32 bytes/);
  });
});
