/**
 * bin/ballast's freshness check, run for real by bash on a small tree: it builds when there is
 * no build, when a source is newer than the last build, and never otherwise — in particular not
 * after an incremental build that left dist/src/cli/main.js untouched (the bug that made every
 * call rebuild), and not after a build run by hand. The tree's `npx` is a stand-in that records
 * each build and writes what `tsc` writes, so the test does not take a full compile per step.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

const BIN = resolve(import.meta.dirname, "../../../bin/ballast");

describe("bin/ballast builds only when a source is newer than the last build", () => {
  let root: string;
  const builds = (): number =>
    readFileSync(join(root, "builds.log"), "utf8").split("\n").filter(Boolean).length;
  /** Sets a file's times `secondsAgo` in the past (file times are compared, so steps must differ). */
  const age = (path: string, secondsAgo: number): void => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(path, t, t);
  };
  const call = (): Promise<string> =>
    new Promise((done, fail) =>
      execFile(
        "bash",
        [join(root, "bin/ballast"), "hello"],
        { env: { ...process.env, PATH: `${join(root, "fakebin")}:${process.env.PATH}` } },
        (err, stdout, stderr) => (err ? fail(new Error(`${err.message}\n${stderr}`)) : done(stdout)),
      ),
    );

  before(() => {
    root = mkdtempSync(join(tmpdir(), "ballast-bin-"));
    for (const d of ["bin", "src/cli", "dist/src/cli", "node_modules", "fakebin"])
      mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BIN, join(root, "bin/ballast"));
    writeFileSync(join(root, "package-lock.json"), "{}");
    writeFileSync(join(root, "node_modules/.package-lock.json"), "{}");
    writeFileSync(join(root, "tsconfig.json"), "{}");
    writeFileSync(join(root, "src/cli/main.ts"), "");
    writeFileSync(join(root, "src/cli/other.ts"), "");
    writeFileSync(join(root, "builds.log"), "");
    writeFileSync(join(root, "dist/src/cli/main.js"), 'console.log("ran", process.argv[2]);\n');
    // What `npx --no-install tsc -p tsconfig.json` does here: an incremental build that rewrites
    // its build info but not main.js (whose source did not change).
    writeFileSync(
      join(root, "fakebin/npx"),
      `#!/bin/sh\necho "$@" >> "${join(root, "builds.log")}"\ntouch "${join(root, "dist/.tsbuildinfo")}"\n`,
    );
    chmodSync(join(root, "fakebin/npx"), 0o755);
    for (const f of [
      "package-lock.json",
      "node_modules/.package-lock.json",
      "tsconfig.json",
      "src/cli/main.ts",
      "src/cli/other.ts",
      "dist/src/cli/main.js",
    ])
      age(join(root, f), 100);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("builds the first time (no mark of a build), then runs main.js", async () => {
    assert.equal(await call(), "ran hello\n");
    assert.equal(builds(), 1);
    assert.match(readFileSync(join(root, "builds.log"), "utf8"), /--no-install tsc -p tsconfig.json/);
  });

  it("does not build again when nothing changed", async () => {
    await call();
    await call();
    assert.equal(builds(), 1);
  });

  it("builds once after a source other than main.ts changes, although main.js stays older", async () => {
    age(join(root, "dist/.ballast-built"), 50);
    age(join(root, "dist/.tsbuildinfo"), 50);
    writeFileSync(join(root, "src/cli/other.ts"), "// edited\n");
    await call();
    assert.equal(builds(), 2);
    await call();
    assert.equal(builds(), 2, "the stamp written after the build stops a second one");
  });

  it("does not build after a build run by hand (tsc's build info is newer than the source)", async () => {
    age(join(root, "dist/.ballast-built"), 40);
    age(join(root, "dist/.tsbuildinfo"), 40);
    writeFileSync(join(root, "src/cli/other.ts"), "// edited again\n");
    age(join(root, "src/cli/other.ts"), 30);
    writeFileSync(join(root, "dist/.tsbuildinfo"), "{}"); // `npx tsc -p tsconfig.json` by hand
    await call();
    assert.equal(builds(), 2);
  });

  it("builds when tsconfig.json changes", async () => {
    writeFileSync(join(root, "tsconfig.json"), '{"compilerOptions":{}}');
    await call();
    assert.equal(builds(), 3);
  });
});
