/**
 * The `ballast` command's help and usage errors, walking the command table: every command and
 * verb answers --help on stdout with exit code 0 and lists each flag it takes; unknown commands,
 * verbs and flags are one line on stderr with exit code 2.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flagsOf, parseCommand } from "../../src/cli/command.js";
import { COMMANDS } from "../../src/cli/commands.js";
import { UsageError } from "../../src/cli/errors.js";
import { INSTANCES } from "../../src/cli/specs/inventory.js";
import { STATE } from "../../src/cli/specs/state.js";
import { ballast, inBatches, oneLine } from "./support.js";

describe("ballast --help", () => {
  it("ballast, ballast --help and ballast help print every command on stdout, exit 0", async () => {
    for (const args of [[], ["--help"], ["-h"], ["help"]]) {
      const r = await ballast(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.spec.name} `, "m"), c.spec.name);
      for (const words of ["compact", "--store", "--agents", "--json", "--endpoint"])
        assert.ok(r.stdout.includes(words), `${args.join(" ")}: usage mentions ${words}`);
    }
  });

  it("every command and every verb: --help on stdout, exit 0, each of its flags with its meaning", async () => {
    const cases = COMMANDS.flatMap((c) => [
      { spec: c.spec, verb: undefined, args: [c.spec.name, "--help"] },
      ...(c.spec.verbs ?? []).map((v) => ({ spec: c.spec, verb: v, args: [c.spec.name, v.name, "-h"] })),
    ]);
    assert.ok(cases.length > 50, `${cases.length} help pages`);
    const results = await inBatches(
      cases.map((k) => () => ballast(k.args)),
      4,
    );
    cases.forEach((k, i) => {
      const r = results[i];
      assert.ok(r);
      const what = `ballast ${k.args.join(" ")}`;
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(r.stderr, "", what);
      assert.match(
        r.stdout,
        new RegExp(`^usage: ballast ${k.spec.name}${k.verb ? ` ${k.verb.name}` : ""}`),
        what,
      );
      for (const flag of flagsOf(k.spec, k.verb)) {
        const line = r.stdout.split("\n").find((l) => new RegExp(`^\\s+(-\\w, )?--${flag}\\b`).test(l));
        assert.ok(line, `${what} lists --${flag}`);
        const help = k.spec.flags[flag]?.help ?? "";
        assert.ok(line.includes(help), `${what}: --${flag} has its meaning`);
        const def = k.spec.flags[flag]?.default;
        if (typeof def === "string")
          assert.ok(line.includes(`(default ${def})`), `${what}: --${flag} default`);
      }
      // A verb's page lists only the flags it takes: a flag of another verb would be refused.
      if (k.verb)
        for (const other of Object.keys(k.spec.flags).filter((f) => !flagsOf(k.spec, k.verb).includes(f)))
          assert.doesNotMatch(r.stdout, new RegExp(`--${other}\\b.*\\n`), `${what} leaves out --${other}`);
      else
        for (const v of k.spec.verbs ?? []) assert.match(r.stdout, new RegExp(`^  ${v.name}\\b`, "m"), what);
    });
  });

  it("ballast help COMMAND [VERB] is the same page as --help", async () => {
    const [a, b] = await Promise.all([
      ballast(["help", "state", "compact"]),
      ballast(["state", "compact", "--help"]),
    ]);
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    assert.equal((await ballast(["state", "help", "compact"])).stdout, a.stdout);
    assert.match(a.stdout, /--ticket ID\s+an approved change ticket covering this operation/);
  });

  it("an unknown command, verb or flag: one line naming it and the help to run, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["lbs"], /^ballast: unknown command 'lbs'; run 'ballast --help'/],
      [
        ["instances", "--bogus"],
        /^ballast instances: unknown flag '--bogus'; run 'ballast instances --help'$/,
      ],
      [
        ["instances", "list", "--bogus"],
        /^ballast instances list: unknown flag '--bogus'; run 'ballast instances list --help'$/,
      ],
      [
        ["instances", "frobnicate"],
        /^ballast instances: unknown verb 'frobnicate' \(add, remove, list\); run 'ballast instances --help'$/,
      ],
      [
        ["instances", "list", "--zone", "us-east-1a"],
        /--zone does not apply to 'instances list'; run 'ballast instances list --help'$/,
      ],
      [
        ["state", "restore", "--endpoint"],
        /^ballast state restore: --endpoint needs a value; run 'ballast state restore --help'$/,
      ],
      [["up", "--demo=yes"], /^ballast up: --demo takes no value; run 'ballast up --help'$/],
      [["alarms", "now"], /^ballast alarms: unexpected argument 'now'; run 'ballast alarms --help'$/],
      [
        ["agents", "now"],
        /^ballast agents: unknown verb 'now' \(add, revoke, keys\); run 'ballast agents --help'$/,
      ],
      [["help", "nothing"], /^ballast help: unknown command 'nothing'/],
      // An empty name would reach the API as another route (GET /load-balancers/ is the list).
      [["health", ""], /^ballast health: 'health' was given an empty argument; run 'ballast health --help'$/],
      [
        ["tickets", "approve", " "],
        /^ballast tickets approve: 'tickets approve' was given an empty argument/,
      ],
      [["keys", "list", "x"], /^ballast keys list: unexpected argument 'x'; run 'ballast keys list --help'$/],
      [["lb", "show"], /^ballast lb show: 'lb show' needs NAME; run 'ballast lb show --help'$/],
      [
        ["state", "diff", "1", "2", "3"],
        /^ballast state diff: 'state diff' takes A \[B\] \(unexpected '3'\)/,
      ],
    ];
    for (const [args, line] of cases) {
      const r = await ballast(args);
      assert.equal(r.code, 2, `ballast ${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(oneLine(r.stderr), line);
    }
  });

  it("a command with verbs and no verb prints its help", async () => {
    const r = await ballast(["guard"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: ballast guard <verb>/);
  });
});

describe("parseCommand", () => {
  it("gives typed values with the spec's defaults, the verb and the positionals after it", () => {
    const p = parseCommand(STATE, ["diff", "3", "7", "--json"]);
    assert.equal(p.verb, "diff");
    assert.deepEqual(p.positionals, ["3", "7"]);
    assert.equal(p.values.json, true);
    assert.equal(p.values.endpoint, "http://127.0.0.1:9700");
    assert.equal(p.values.at, "head");
    assert.equal(p.values.to, undefined);
    const lbs = parseCommand(STATE, ["restore", "--to", "4", "--lb", "a", "--lb", "b"]).values.lb;
    assert.deepEqual(lbs, ["a", "b"]);
  });

  it("refuses what the spec does not declare, as a UsageError", () => {
    assert.throws(() => parseCommand(INSTANCES, ["add", "i-1", "--adress", "x"]), UsageError);
    assert.throws(() => parseCommand(INSTANCES, ["list", "--address", "x"]), /does not apply/);
    assert.throws(() => parseCommand(INSTANCES, []), /a verb is required/);
  });
});
