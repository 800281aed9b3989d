/**
 * A compact reporter for Node's test runner (`node --test --test-reporter=./scripts/reporter.mjs`):
 * one line per test file as it finishes (pass/fail/skip counts and time), every failure in full
 * under its file (the test's path of names, where it is defined, the assertion's message and the
 * stack frames outside Node's internals; for a file that crashed, the end of its stderr), then a
 * summary whose last line is `N passed, N failed` (and `, N skipped` when some were skipped).
 *
 * It reads only the events Node 20, 22 and 24 all send (test:start, test:pass, test:fail,
 * test:complete, test:stderr): counts come from test:pass and test:fail; a suite, or a test whose
 * only failure is its subtests' (`subtestsFailed`), is not counted again. Node reports the tests
 * file by file in order (start, pass and fail events), so a file's line is printed when the next
 * file starts reporting, and the last one's when the run ends. A file is the test named by its
 * path: Node 20 reports its end (test:complete, its time) for every file, newer Node its verdict
 * only when it failed or had nothing else to report; a file that failed on its own (it crashed, or
 * exited non-zero) counts as one failure, shown with the end of its stderr. The run's exit code
 * stays the runner's.
 *
 * `BALLAST_TAP_FILE`: where the full TAP went (printed before the summary).
 */
import { relative, resolve } from "node:path";

const STDERR_TAIL_LINES = 30;
const STACK_FRAMES = 6;

/** @typedef {{ name: string, nesting: number, file?: string, line?: number, column?: number, skip?: unknown, todo?: unknown, details?: { duration_ms?: number, type?: string, error?: unknown } }} TestData */

/**
 * @typedef {object} FileState
 * @property {string} path
 * @property {number} passed
 * @property {number} failed
 * @property {number} skipped
 * @property {number} topLevelMs
 * @property {number | undefined} wrapperMs
 * @property {string[]} names  the names of the tests started, by nesting
 * @property {string[]} failures  formatted failure blocks
 * @property {string[]} failedTests  the names of the failed tests
 * @property {string[]} stderr  the last lines the file wrote to stderr
 * @property {boolean} done
 * @property {boolean} fileFailed  the file itself failed (crashed, or exited non-zero)
 */

export default async function* compactReporter(source) {
  /** @type {Map<string, FileState>} */
  const files = new Map();
  const started = performance.now();

  /** @param {string | undefined} file */
  const stateOf = (file) => {
    const key = file ?? "(no file)";
    let s = files.get(key);
    if (s === undefined) {
      s = {
        path: file === undefined ? key : relative(process.cwd(), file) || file,
        passed: 0,
        failed: 0,
        skipped: 0,
        topLevelMs: 0,
        wrapperMs: undefined,
        names: [],
        failures: [],
        failedTests: [],
        stderr: [],
        done: false,
        fileFailed: false,
      };
      files.set(key, s);
    }
    return s;
  };

  /** The file whose tests are being reported now (they are reported file by file, in order). */
  /** @type {FileState | undefined} */
  let current;
  /**
   * Moves the report on to `s`'s file: the file before it has reported everything, so its line
   * is printed. Only the events Node emits in order (start, pass, fail) move it.
   * @param {FileState} s
   */
  const reportingFrom = (s) => {
    let out = "";
    if (current !== undefined && current !== s && !current.done) {
      current.done = true;
      out = fileReport(current);
    }
    current = s;
    return out;
  };

  for await (const event of source) {
    /** @type {TestData} */
    const data = event.data ?? {};
    const isWrapper =
      data.file !== undefined &&
      data.nesting === 0 &&
      typeof data.name === "string" &&
      (data.name === data.file || resolve(data.name) === data.file);
    // The run's own plan and diagnostics (the runner's totals) name no file: not a file's events.
    if (data.file === undefined && event.type !== "test:pass" && event.type !== "test:fail") continue;
    const s = stateOf(data.file);
    switch (event.type) {
      case "test:start": {
        const done = reportingFrom(s);
        if (done) yield done;
        if (isWrapper) break;
        s.names.length = data.nesting;
        s.names[data.nesting] = data.name;
        break;
      }
      case "test:stderr": {
        for (const line of String(event.data.message ?? "").split("\n")) {
          if (line === "") continue;
          s.stderr.push(line);
          if (s.stderr.length > STDERR_TAIL_LINES) s.stderr.shift();
        }
        break;
      }
      case "test:pass": {
        const done = reportingFrom(s);
        if (done) yield done;
        if (isWrapper) {
          s.wrapperMs ??= data.details?.duration_ms;
          break;
        }
        if (data.details?.type === "suite") break;
        if (data.nesting === 0) s.topLevelMs += data.details?.duration_ms ?? 0;
        if (data.skip !== undefined || data.todo !== undefined) s.skipped++;
        else s.passed++;
        break;
      }
      case "test:fail": {
        const done = reportingFrom(s);
        if (done) yield done;
        const error = data.details?.error;
        if (isWrapper) {
          s.wrapperMs ??= data.details?.duration_ms;
          const late = fileFailure(s, data, error);
          if (late) yield late;
          break;
        }
        if (data.nesting === 0) s.topLevelMs += data.details?.duration_ms ?? 0;
        if (failureType(error) === "subtestsFailed") break;
        s.failed++;
        const name = [...s.names.slice(0, data.nesting), data.name].join(" > ");
        s.failedTests.push(name);
        s.failures.push(failureBlock(name, data, error, []));
        break;
      }
      case "test:complete": {
        // Emitted as tests end, not in order: the file's own end gives its time (and a crash).
        if (!isWrapper) break;
        s.wrapperMs = data.details?.duration_ms;
        if (data.details?.passed === false) {
          const late = fileFailure(s, data, data.details?.error);
          if (late) yield late;
        }
        break;
      }
      default:
        break;
    }
  }

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failedNames = [];
  for (const s of files.values()) {
    for (const name of s.failedTests) failedNames.push(`${s.path}: ${name}`);
    if (!s.done) yield fileReport(s);
    passed += s.passed;
    failed += s.failed;
    skipped += s.skipped;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  let out = "\n";
  if (failedNames.length > 0) out += `Failed:\n${failedNames.map((n) => `  ${n}\n`).join("")}\n`;
  out += `${files.size} test files in ${seconds}s\n`;
  if (process.env.BALLAST_TAP_FILE) out += `full TAP output: ${process.env.BALLAST_TAP_FILE}\n`;
  out += `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}\n`;
  yield out;
}

/**
 * Records, once, that the file itself failed — it crashed or exited non-zero, not only its tests
 * (`subtestsFailed`). Returns what to print now when the file's line was printed already.
 * @param {FileState} s
 * @param {TestData} data
 * @param {unknown} error
 */
function fileFailure(s, data, error) {
  if (s.fileFailed || failureType(error) === "subtestsFailed") return "";
  s.fileFailed = true;
  s.failed++;
  s.failedTests.push("(the file itself)");
  const block = failureBlock("(the file itself)", data, error, s.stderr);
  s.failures.push(block);
  return s.done ? `FAIL ${s.path}  the file itself failed\n${block}` : "";
}

/** @param {unknown} error */
function failureType(error) {
  return typeof error === "object" && error !== null && "failureType" in error
    ? error.failureType
    : undefined;
}

/** @param {FileState} s */
function fileReport(s) {
  const ms = s.wrapperMs ?? s.topLevelMs;
  const counts = [`${s.passed} passed`];
  if (s.failed > 0) counts.push(`${s.failed} failed`);
  if (s.skipped > 0) counts.push(`${s.skipped} skipped`);
  const mark = s.failed > 0 ? "FAIL" : "ok  ";
  const line = `${mark} ${s.path}  ${counts.join(", ")}  (${(ms / 1000).toFixed(1)}s)\n`;
  return line + s.failures.join("");
}

/**
 * A failure in full: the test, where it is defined, the error's message (its cause's, for the
 * runner's wrapper error) and the stack frames outside Node's internals.
 * @param {string} name
 * @param {TestData} data
 * @param {unknown} error
 * @param {readonly string[]} stderr
 */
function failureBlock(name, data, error, stderr) {
  const where =
    data.file === undefined
      ? ""
      : `  (${relative(process.cwd(), data.file)}:${data.line ?? 0}:${data.column ?? 0})`;
  let out = `  x ${name}${where}\n`;
  const cause =
    typeof error === "object" && error !== null && "cause" in error && error.cause ? error.cause : error;
  const text = describeError(cause);
  for (const line of text.split("\n")) out += `      ${line}\n`;
  if (stderr.length > 0) {
    out += "      stderr (last lines):\n";
    for (const line of stderr) out += `        ${line}\n`;
  }
  return `${out}\n`;
}

/** @param {unknown} e */
function describeError(e) {
  if (!(e instanceof Error) && (typeof e !== "object" || e === null)) return String(e);
  const err = /** @type {{ name?: string, message?: string, stack?: string, code?: string }} */ (e);
  const head = `${err.name ?? "Error"}${err.code && err.code !== "ERR_TEST_FAILURE" ? ` [${err.code}]` : ""}: ${err.message ?? ""}`;
  const frames = String(err.stack ?? "")
    .split("\n")
    .filter((l) => /^\s+at /.test(l) && !l.includes("node:internal") && !l.includes("node:async_hooks"))
    .slice(0, STACK_FRAMES)
    .map((l) => `  ${l.trim()}`);
  return [head.trimEnd(), ...frames].join("\n");
}
