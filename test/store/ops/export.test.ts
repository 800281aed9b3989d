import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BallastError } from "../../../src/model/errors.js";
import type { Certificate } from "../../../src/model/types.js";
import { canonicalJson } from "../../../src/store/journal.js";
import { diffsOfKind } from "../../../src/store/ops/diff.js";
import {
  exportState,
  importState,
  parseExport,
  readExportFile,
  serializeExport,
  writeExportFile,
} from "../../../src/store/ops/export.js";
import { currentState, stateAt } from "../../../src/store/ops/snapshot.js";
import { verifyJournal } from "../../../src/store/ops/verify.js";
import { SecretKey } from "../../../src/util/secret-key.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { aCredential, openTempStore, stateForm, type TempStore } from "./support.js";

const isValidationError = (e: unknown): boolean => e instanceof BallastError && e.code === "ValidationError";

describe("export and import", () => {
  let source: TempStore;
  before(async () => {
    source = await openTempStore();
    await source.store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer({ instances: ["i-1"] }));
      tx.put("loadBalancer", "api", aLoadBalancer({ name: "api" }));
      tx.put("instance", "i-1", anInstance({ instanceId: "i-1" }));
      tx.put("credential", "AKIA1", aCredential({ accessKeyId: "AKIA1" }));
    });
    await source.store.mutate(meta(), async (tx) => {
      tx.delete("loadBalancer", "api");
    });
  });
  after(async () => {
    await source.cleanup();
  });

  it("exports a self-checking document of the head state", async () => {
    const doc = await exportState(source.store);
    assert.equal(doc.format, "ballast-state");
    assert.equal(doc.version, 2);
    assert.equal(doc.revision, 2);
    assert.deepEqual(
      doc.entities.map((e) => `${e.kind}/${e.key}`),
      ["loadBalancer/web", "instance/i-1", "credential/AKIA1"],
    );
    assert.match(doc.mac ?? "", /^[0-9a-f]{64}$/);
    assert.equal(doc.checksum, undefined);
    assert.deepEqual(parseExport(serializeExport(doc)), doc);
    const at1 = await exportState(source.store, { at: 1 });
    assert.ok(at1.entities.some((e) => e.key === "api"));
  });

  it("imports into a fresh store as one revision, equal to the source", async () => {
    const dir = source.dir;
    const path = join(dir, "export.json");
    const written = await writeExportFile(source.store, path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const doc = await readExportFile(path);
    assert.deepEqual(doc, written);

    const target = await openTempStore();
    try {
      const { revision, diff } = await importState(target.store, doc, meta("ImportState"));
      assert.equal(revision?.number, 1);
      assert.equal(diffsOfKind(diff, "loadBalancer").length, 1);
      assert.equal(stateForm(await currentState(target.store)), stateForm(await stateAt(source.store, 2)));
      const again = await importState(target.store, doc, meta("ImportState"));
      assert.equal(again.revision, undefined);
      assert.equal((await verifyJournal(target.store)).ok, true);
    } finally {
      await target.cleanup();
    }
  });

  it("import replaces what the target has, with tombstones, keeping its history", async () => {
    const doc = await exportState(source.store);
    const target = await openTempStore();
    try {
      await target.store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "stray", aLoadBalancer({ name: "stray" }));
        tx.put("credential", "AKIA-OPS", aCredential({ accessKeyId: "AKIA-OPS" }));
      });
      await importState(target.store, doc, meta("ImportState"), { includeCredentials: false });
      const now = await currentState(target.store);
      assert.deepEqual([...now.entities.loadBalancer.keys()], ["web"]);
      assert.deepEqual([...now.entities.credential.keys()], ["AKIA-OPS"]);
      assert.equal((await target.store.history("loadBalancer", "stray")).length, 2);
    } finally {
      await target.cleanup();
    }
  });

  it("refuses corrupted, truncated and checksum-mismatched files, and changes nothing", async () => {
    const text = serializeExport(await exportState(source.store));
    const target = await openTempStore();
    try {
      await target.store.mutate(meta(), async (tx) => {
        tx.put("loadBalancer", "keep", aLoadBalancer({ name: "keep" }));
      });
      const head = await target.store.head();
      const i = text.indexOf("us-east-1a");
      const flipped = `${text.slice(0, i)}us-east-1b${text.slice(i + 10)}`;
      const cases: [string, string, RegExp][] = [
        ["flipped", flipped, /MAC mismatch: it was altered or corrupted/],
        [
          "truncated",
          text.slice(0, Math.floor(text.length / 2)),
          /not valid JSON, so it is truncated or corrupted/,
        ],
        ["wrong format", text.replace('"ballast-state"', '"other"'), /format is "other"/],
        ["wrong version", text.replace('"version":2', '"version":3'), /version 3 is not supported/],
        ["no MAC", text.replace(/"mac":"[0-9a-f]+"/, '"mac":null'), /no MAC/],
        ["empty", "", /not valid JSON/],
      ];
      for (const [name, body, message] of cases) {
        const path = join(target.dir, `${name}.json`);
        writeFileSync(path, body);
        await assert.rejects(
          readExportFile(path, { key: target.store.codec.key }),
          (e: unknown) => isValidationError(e) && message.test((e as Error).message),
          name,
        );
      }
      // A document edited in memory is re-checked by importState too.
      const doc = parseExport(text);
      const edited = { ...doc, entities: doc.entities.slice(1) };
      await assert.rejects(importState(target.store, edited, meta()), /MAC mismatch/);
      assert.equal(await target.store.head(), head);
      assert.ok(await target.store.get("loadBalancer", "keep"));
    } finally {
      await target.cleanup();
    }
  });

  it("rejects a file whose checksum matches but whose entities are malformed", () => {
    const body = {
      format: "ballast-state",
      version: 1,
      revision: 1,
      exportedAt: new Date().toISOString(),
      entities: [{ kind: "loadBalancer", key: "web", doc: aLoadBalancer({ name: "other" }) }],
    };
    const checksum = createHash("sha256").update(canonicalJson(body)).digest("hex");
    assert.throws(
      () => parseExport(JSON.stringify({ ...body, checksum })),
      /keyed 'web' but its document names "other"/,
    );
  });
});

describe("export secrets and signatures", () => {
  const SECRET = "SECRETxKEYxMUSTxNOTxAPPEARx0123456789ab";
  const PEM_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7testline";
  let source: TempStore;
  before(async () => {
    source = await openTempStore();
    await source.store.mutate(meta(), async (tx) => {
      tx.put("loadBalancer", "web", aLoadBalancer());
      tx.put("credential", "AKIA1", aCredential({ accessKeyId: "AKIA1", secretAccessKey: SECRET }));
      tx.put("certificate", "arn:cert", aCertificate(PEM_LINE));
    });
  });
  after(async () => {
    await source.cleanup();
  });

  it("seals secrets in the file and opens them on import with the same key", async () => {
    const path = join(source.dir, "sealed.json");
    await writeExportFile(source.store, path);
    const text = readFileSync(path, "utf8");
    assert.ok(!text.includes(SECRET), "the access key's secret is not in the export");
    assert.ok(!text.includes(PEM_LINE), "the private key is not in the export");
    assert.match(text, /"secretAccessKey":"enc:v1:/);
    const target = await openTempStore();
    try {
      await importState(target.store, await readExportFile(path), meta("ImportState"));
      assert.equal((await target.store.get("credential", "AKIA1"))?.doc.secretAccessKey, SECRET);
      assert.match((await target.store.get("certificate", "arn:cert"))?.doc.privateKey ?? "", /testline/);
    } finally {
      await target.cleanup();
    }
  });

  it("refuses a hand-made file with a recomputed checksum, and an export of another key", async () => {
    const doc = await exportState(source.store);
    const target = await openTempStore();
    const foreign = await openTempStore("ballast.db", SecretKey.generate("other"));
    try {
      // An attacker's file: the body edited (a credential of their own) and a fresh bare checksum.
      const { mac: _mac, ...body } = doc;
      const forged = {
        ...body,
        version: 1,
        entities: [
          ...body.entities,
          { kind: "credential", key: "AKIAEVIL", doc: aCredential({ accessKeyId: "AKIAEVIL" }) },
        ],
      };
      const checksum = createHash("sha256").update(canonicalJson(forged)).digest("hex");
      const forgedText = JSON.stringify({ ...forged, checksum });
      assert.throws(
        () => parseExport(forgedText, "forged", { key: target.store.codec.key }),
        /unsigned export \(version 1.*--accept-unsigned/,
      );
      // The same with a made-up MAC in the new format.
      const madeUp = JSON.stringify({ ...body, mac: "0".repeat(64) });
      assert.throws(() => parseExport(madeUp, "made up", { key: target.store.codec.key }), /MAC mismatch/);
      await assert.rejects(
        importState(foreign.store, doc, meta("ImportState")),
        /written by a control plane with another secret key/,
      );
      assert.equal(await foreign.store.head(), 0);
    } finally {
      await target.cleanup();
      await foreign.cleanup();
    }
  });

  it("reads an old unsigned export only when the administrator accepts it, checksum still checked", async () => {
    const state = await exportState(source.store);
    const plain = state.entities.map((e) => ({ ...e, doc: source.store.codec.open(e.kind, e.key, e.doc) }));
    const body = {
      format: "ballast-state",
      version: 1,
      revision: state.revision,
      exportedAt: state.exportedAt,
      entities: plain,
    };
    const checksum = createHash("sha256").update(canonicalJson(body)).digest("hex");
    const v1 = parseExport(JSON.stringify({ ...body, checksum }));
    const target = await openTempStore();
    try {
      await assert.rejects(importState(target.store, v1, meta("ImportState")), /--accept-unsigned/);
      const done = await importState(target.store, v1, meta("ImportState"), { acceptUnsigned: true });
      assert.equal(done.revision?.number, 1);
      assert.equal((await target.store.get("credential", "AKIA1"))?.doc.secretAccessKey, SECRET);
      const edited = { ...v1, revision: 99 };
      await assert.rejects(
        importState(target.store, edited, meta("ImportState"), { acceptUnsigned: true }),
        /checksum mismatch/,
      );
    } finally {
      await target.cleanup();
    }
  });

  it("never replaces the importing caller's own credential", async () => {
    const doc = await exportState(source.store);
    const target = await openTempStore();
    try {
      const mine = aCredential({ accessKeyId: "AKIAME", secretAccessKey: "my-own-secret" });
      await target.store.mutate(meta(), async (tx) => {
        tx.put("credential", "AKIAME", mine);
        tx.put("credential", "AKIAOTHER", aCredential({ accessKeyId: "AKIAOTHER" }));
      });
      const done = await importState(target.store, doc, meta("ImportState"), { keepCredentials: ["AKIAME"] });
      assert.deepEqual(done.keptCredentials, ["AKIAME"]);
      assert.deepEqual((await target.store.get("credential", "AKIAME"))?.doc, mine);
      assert.equal(await target.store.get("credential", "AKIAOTHER"), undefined);
      assert.ok(await target.store.get("credential", "AKIA1"));
    } finally {
      await target.cleanup();
    }
  });
});

function aCertificate(pemLine: string): Certificate {
  return {
    arn: "arn:cert",
    name: "web",
    certificateBody: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    privateKey: `-----BEGIN PRIVATE KEY-----\n${pemLine}\n-----END PRIVATE KEY-----\n`,
    uploadedTime: "2026-11-23T00:00:00.000Z",
    notAfter: "2027-11-23T00:00:00.000Z",
    subject: "CN=web",
  };
}
