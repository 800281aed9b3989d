import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BallastError } from "../../../src/model/errors.js";
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
    assert.equal(doc.version, 1);
    assert.equal(doc.revision, 2);
    assert.deepEqual(
      doc.entities.map((e) => `${e.kind}/${e.key}`),
      ["loadBalancer/web", "instance/i-1", "credential/AKIA1"],
    );
    assert.match(doc.checksum, /^[0-9a-f]{64}$/);
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
        ["flipped", flipped, /checksum mismatch/],
        [
          "truncated",
          text.slice(0, Math.floor(text.length / 2)),
          /not valid JSON, so it is truncated or corrupted/,
        ],
        ["wrong format", text.replace('"ballast-state"', '"other"'), /format is "other"/],
        ["wrong version", text.replace('"version":1', '"version":2'), /version 2 is not supported/],
        ["no checksum", text.replace(/"checksum":"[0-9a-f]+"/, '"checksum":null'), /no checksum/],
        ["empty", "", /not valid JSON/],
      ];
      for (const [name, body, message] of cases) {
        const path = join(target.dir, `${name}.json`);
        writeFileSync(path, body);
        await assert.rejects(
          readExportFile(path),
          (e: unknown) => isValidationError(e) && message.test((e as Error).message),
          name,
        );
      }
      // A document edited in memory is re-checked by importState too.
      const doc = parseExport(text);
      const edited = { ...doc, entities: doc.entities.slice(1) };
      await assert.rejects(importState(target.store, edited, meta()), /checksum mismatch/);
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
