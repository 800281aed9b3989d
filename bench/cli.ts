/**
 * CLI benchmark: the wall time of short `ballast` calls, from spawn to exit, against a running
 * control plane (`ballast control` of this tree, in its own process, on free ports).
 *
 *   node dist/bench/cli.js [--runs 30] [--reference DIR]
 *
 * `--reference DIR`: another checkout, built (`npx tsc -p DIR`), whose `bin/ballast` and
 * `dist/src/cli/main.js` are timed side by side with this tree's — e.g. the commit before a
 * change. `node -e 0` is the floor: no Node program starts faster on the machine. The cases are
 * run round-robin (one of each, N times), so a burst of load from elsewhere on a shared machine
 * falls on all of them alike. Prints median and p90 per case and the ratios; asserts nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    reference: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const ROOT = resolve(import.meta.dirname, "../..");
const KEY = { id: "AKIABENCHCLI00000001", secret: "bench-cli-secret-0123456789abcdefghijklm" };

interface Case {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
}

function run(file: string, args: readonly string[]): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const p = spawn(file, args, {
      stdio: ["ignore", "ignore", "ignore"],
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: KEY.id,
        AWS_SECRET_ACCESS_KEY: KEY.secret,
        BALLAST_LOG_LEVEL: "warn",
      },
    });
    p.on("error", fail);
    p.on("exit", (code) => done({ ms: performance.now() - started, code }));
  });
}

async function startControl(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    process.execPath,
    [
      join(ROOT, "dist/src/cli/main.js"),
      "control",
      "--data-dir",
      dataDir,
      "--api-port",
      "0",
      "--agent-port",
      "0",
      "--dns-port",
      "0",
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: KEY.id,
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: KEY.secret,
        BALLAST_LOG_LEVEL: "warn",
      },
    },
  );
  let out = "";
  const url = await new Promise<string>((done, fail) => {
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /API (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m?.[1]) done(m[1]);
    });
    proc.on("exit", (code) => fail(new Error(`ballast control exited ${code}: ${out}`)));
  });
  return { proc, url };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-bench-cli-"));
  const { proc, url } = await startControl(join(dir, "data"));
  try {
    const trees: [string, string][] = [["after", ROOT]];
    if (values.reference) trees.push(["before", resolve(values.reference)]);
    const cases: Case[] = [{ name: "node -e 0", file: process.execPath, args: ["-e", "0"] }];
    const calls: [string, string[]][] = [
      ["--help", ["--help"]],
      ["agents --json", ["agents", "--json", "--endpoint", url]],
      ["instances list", ["instances", "list", "--endpoint", url]],
      ["state history", ["state", "history", "--endpoint", url]],
    ];
    for (const [tree, root] of trees) {
      const main = join(root, "dist/src/cli/main.js");
      if (!existsSync(main)) throw new Error(`${main} does not exist: build ${root} first`);
      for (const [name, args] of calls)
        cases.push({ name: `${tree}: node main.js ${name}`, file: process.execPath, args: [main, ...args] });
      for (const [name, args] of calls.slice(0, 2))
        cases.push({ name: `${tree}: bin/ballast ${name}`, file: join(root, "bin/ballast"), args });
    }
    // One warm-up round (file cache), then RUNS measured rounds.
    for (const c of cases) await run(c.file, c.args);
    const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const c of cases) {
        const r = await run(c.file, c.args);
        if (r.code !== 0) throw new Error(`${c.name} exited ${r.code}`);
        times.get(c.name)?.push(r.ms);
      }
      process.stderr.write(`\rround ${i + 1}/${RUNS}`);
    }
    process.stderr.write("\n");
    const median = (name: string): number =>
      quantile(
        [...(times.get(name) ?? [])].sort((a, b) => a - b),
        0.5,
      );
    const floor = median("node -e 0");
    const rows = cases.map((c) => {
      const sorted = [...(times.get(c.name) ?? [])].sort((a, b) => a - b);
      const before = c.name.startsWith("after: ")
        ? median(c.name.replace("after: ", "before: "))
        : Number.NaN;
      const med = quantile(sorted, 0.5);
      return [
        c.name,
        med.toFixed(0),
        quantile(sorted, 0.9).toFixed(0),
        (med / floor).toFixed(2),
        Number.isNaN(before) ? "" : (med / before).toFixed(2),
      ];
    });
    const header = ["call", "median ms", "p90 ms", "× node -e 0", "× before"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: readonly string[]) =>
      `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
    console.log(`${RUNS} runs of each call, round-robin; control plane at ${url}`);
    console.log(line(header));
    console.log(line(widths.map((w) => "-".repeat(w))));
    for (const r of rows) console.log(line(r));
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
