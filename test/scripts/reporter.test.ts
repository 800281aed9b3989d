/**
 * The test command's reporter (scripts/reporter.mjs), run by the real `node --test` on a small
 * fixture directory: one line per file, failures in full with message and location, the full TAP
 * beside it in a file, the exit code of the run, and `N passed, N failed` alone on the last line.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";

const ROOT = resolve(import.meta.dirname, "../../..");
const REPORTER = join(ROOT, "scripts/reporter.mjs");
const FIXTURES = "test/fixtures/reporter";
const dir = mkdtempSync(join(tmpdir(), "ballast-reporter-"));

after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly lines: string[];
  readonly tap: string;
}

function runTests(files: readonly string[], tapName: string): Promise<Run> {
  const tapFile = join(dir, tapName);
  const args = [
    "--test",
    "--test-concurrency=1",
    `--test-reporter=${REPORTER}`,
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files.map((f) => join(FIXTURES, f)),
  ];
  // Not a child of this run: without this, the inner runner would report to ours, not to its reporters.
  const env: NodeJS.ProcessEnv = { ...process.env, BALLAST_TAP_FILE: tapFile };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      done({ code, stdout, lines: stdout.trimEnd().split("\n"), tap: readFileSync(tapFile, "utf8") });
    });
  });
}

describe("scripts/reporter.mjs", () => {
  it("a passing file: one line with its counts, exit 0, and `2 passed, 0 failed, 1 skipped` last", async () => {
    const r = await runTests(["passing.fixture.mjs"], "pass.tap");
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.lines.at(-1), "2 passed, 0 failed, 1 skipped");
    const fileLines = r.lines.filter((l) => l.includes("passing.fixture.mjs"));
    assert.equal(fileLines.length, 1, r.stdout);
    assert.match(
      fileLines[0] ?? "",
      /^ok {3}test\/fixtures\/reporter\/passing\.fixture\.mjs {2}2 passed, 1 skipped {2}\(\d+\.\ds\)$/,
    );
    assert.ok(r.lines.includes(`full TAP output: ${join(dir, "pass.tap")}`));
    assert.match(r.tap, /^\s*ok \d+ - adds$/m, "the full TAP went to its file");
    assert.ok(r.lines.length < 10, `compact: ${r.lines.length} lines`);
  });

  it("a failing and a crashing file: the failures in full, a non-zero exit code, `N passed, N failed` last", async () => {
    const r = await runTests(
      ["passing.fixture.mjs", "failing.fixture.mjs", "crashing.fixture.mjs"],
      "fail.tap",
    );
    assert.notEqual(r.code, 0);
    assert.equal(r.lines.at(-1), "3 passed, 2 failed, 1 skipped");
    assert.match(
      r.stdout,
      /^FAIL test\/fixtures\/reporter\/failing\.fixture\.mjs {2}1 passed, 1 failed {2}\(/m,
    );
    assert.match(
      r.stdout,
      /^FAIL test\/fixtures\/reporter\/crashing\.fixture\.mjs {2}0 passed, 1 failed {2}\(/m,
    );
    // The assertion: which test, where it is defined, the message with both values, the line that failed.
    assert.match(
      r.stdout,
      /x strings > upper-cases {2}\(test\/fixtures\/reporter\/failing\.fixture\.mjs:7:3\)/,
    );
    assert.match(r.stdout, /AssertionError \[ERR_ASSERTION\]: Expected values to be strictly equal:/);
    assert.match(r.stdout, /'BALLAST'/);
    assert.match(r.stdout, /'BALAST'/);
    assert.match(r.stdout, /at .*failing\.fixture\.mjs:7:\d+/);
    // The file that failed to load: its own error from its stderr.
    assert.match(r.stdout, /x \(the file itself\)/);
    assert.match(r.stdout, /Error: the fixture failed to load/);
    const recap = r.stdout.slice(r.stdout.indexOf("\nFailed:\n"));
    assert.match(recap, /^ {2}test\/fixtures\/reporter\/failing\.fixture\.mjs: strings > upper-cases$/m);
    assert.match(recap, /^ {2}test\/fixtures\/reporter\/crashing\.fixture\.mjs: \(the file itself\)$/m);
    assert.match(r.tap, /^# fail 2$/m);
  });
});
