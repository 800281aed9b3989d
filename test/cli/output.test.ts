/**
 * What the `ballast` command prints against a real control plane (in-process, SQLite, real
 * SigV4): aligned tables and parseable --json for each read command, certificates without their
 * PEM bodies, and every error as one line with its code — an API error, a refused connection,
 * a missing credentials file, a missing certificate file — with a stack trace only on request.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type RunningControlPlane, startControlPlane } from "../../src/cli/control-plane.js";
import { apiErrorOf } from "../../src/cli/errors.js";
import { SignedClient } from "../../src/cli/signed-client.js";
import { silentLogger } from "../../src/util/logger.js";
import { selfSignedCert } from "../support/certs.js";
import { ballast, type CliResult, MAIN_JS, oneLine } from "./support.js";

const ADMIN = {
  accessKeyId: "AKIACLIOUTPUT0000001",
  secretAccessKey: "cli-output-secret-0123456789abcdefghijk",
};
const KEY_ENV = { AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey };

/**
 * Asserts `text` has a header row of upper-case column names and that every row's cells start
 * exactly where the header's columns do (two spaces before each, a non-space at it).
 */
function assertAligned(text: string, header: readonly string[]): string[] {
  const lines = text.trimEnd().split("\n");
  const at = lines.findIndex((l) => header.every((h) => l.includes(h)) && l.startsWith(header[0] ?? ""));
  assert.ok(at >= 0, `a header ${header.join(" ")} in:\n${text}`);
  const head = lines[at] ?? "";
  // Each name searched after the previous one (SOURCE is also the end of RESOURCE).
  const starts: number[] = [];
  for (const h of header) {
    const from = starts.length === 0 ? 0 : (starts.at(-1) ?? 0) + 1;
    let i = head.indexOf(h, from);
    while (i > 0 && head.slice(i - 2, i) !== "  ") i = head.indexOf(h, i + 1);
    assert.ok(i >= 0, `column ${h} in '${head}'`);
    starts.push(i);
  }
  // The table ends at a blank line or a note in parentheses ("(older revisions: --before 2)").
  const end = lines.findIndex((l, i) => i > at && (l === "" || l.startsWith("(")));
  const rows = lines.slice(at + 1, end < 0 ? undefined : end);
  assert.ok(rows.length > 0, `rows under the header:\n${text}`);
  for (const row of rows)
    for (const s of starts.slice(1)) {
      if (row.length <= s) continue; // an empty last cell
      assert.equal(row.slice(s - 2, s), "  ", `column at ${s} in '${row}'`);
      assert.notEqual(row[s], " ", `a cell starts at ${s} in '${row}'`);
    }
  return rows;
}

describe("ballast output and errors against a running control plane", () => {
  let cp: RunningControlPlane;
  let dir: string;
  let agent: ChildProcess | undefined;
  const cli = (...args: string[]): Promise<CliResult> => ballast([...args, "--endpoint", cp.apiUrl], KEY_ENV);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-cli-output-"));
    cp = await startControlPlane({
      dataDir: join(dir, "data"),
      store: "sqlite",
      host: "127.0.0.1",
      apiPort: 0,
      agentPort: 0,
      dnsPort: 0,
      dnsDomain: "ballast.test",
      zones: ["us-east-1a", "us-east-1b"],
      env: {
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ADMIN.accessKeyId,
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: ADMIN.secretAccessKey,
      },
      logger: silentLogger,
    });
  });
  after(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent?.once("exit", r));
      agent.kill("SIGTERM");
      await exited;
    }
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("inventories: words for changes, aligned tables for lists, the API's JSON with --json", async () => {
    const added = await cli(
      "instances",
      "add",
      "i-0cli000000000001",
      "--address",
      "10.1.2.3",
      "--zone",
      "us-east-1a",
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, "instance i-0cli000000000001: 10.1.2.3 in us-east-1a\n");
    assert.equal(
      (await cli("instances", "add", "i-2", "--address", "fd00::2", "--zone", "us-east-1b")).code,
      0,
    );
    const list = await cli("instances", "list");
    assert.equal(list.code, 0, list.stderr);
    const rows = assertAligned(list.stdout, ["INSTANCE", "ADDRESS", "ZONE"]);
    assert.equal(rows.length, 2);
    const json = JSON.parse((await cli("instances", "list", "--json")).stdout) as { instances: unknown[] };
    assert.equal(json.instances.length, 2);

    assert.equal(
      (
        await cli(
          "subnets",
          "add",
          "subnet-0a1b2c3d",
          "--zone",
          "us-east-1a",
          "--vpc",
          "vpc-0a1b2c3d",
          "--cidr",
          "10.0.0.0/24",
        )
      ).code,
      0,
    );
    assertAligned((await cli("subnets", "list")).stdout, ["SUBNET", "ZONE", "VPC", "CIDR", "DEFAULT"]);
    assert.equal(
      (JSON.parse((await cli("subnets", "list", "--json")).stdout) as { subnets: unknown[] }).subnets.length,
      1,
    );

    assert.equal(
      (await cli("limits", "set", "classic-listeners", "7")).stdout,
      "limit classic-listeners in us-east-1: 7\n",
    );
    const limits = assertAligned((await cli("limits", "list")).stdout, ["NAME", "MAX", "DEFAULT"]);
    assert.ok(
      limits.some((r) => /^classic-listeners\s+7\s+100$/.test(r)),
      limits.join("\n"),
    );
    const lj = JSON.parse((await cli("limits", "list", "--json")).stdout) as {
      limits: { name: string; max: number }[];
    };
    assert.equal(lj.limits.find((l) => l.name === "classic-listeners")?.max, 7);
  });

  it("certificates: name, subject, expiry and fingerprint, never a PEM body", async () => {
    const pem = selfSignedCert("cli.example.test");
    writeFileSync(join(dir, "c.crt"), pem.cert);
    writeFileSync(join(dir, "c.key"), pem.key);
    const up = await cli(
      "certs",
      "upload",
      "site",
      "--cert",
      join(dir, "c.crt"),
      "--key",
      join(dir, "c.key"),
    );
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^certificate site: arn:aws:iam::\d+:server-certificate\/site\n/);
    const list = await cli("certs", "list");
    assert.equal(list.code, 0, list.stderr);
    const [row] = assertAligned(list.stdout, ["NAME", "SUBJECT", "EXPIRES", "SHA-256", "ARN"]);
    assert.match(
      row ?? "",
      /^site\s+.*CN=cli\.example\.test.*\s+\d{4}-\d\d-\d\dT.*\s+([0-9A-F]{2}:){7}[0-9A-F]{2}…\s+arn:/,
    );
    assert.doesNotMatch(list.stdout, /BEGIN|PRIVATE/);
    const json = JSON.parse((await cli("certs", "list", "--json")).stdout) as {
      certificates: { name: string }[];
    };
    assert.deepEqual(
      json.certificates.map((c) => c.name),
      ["site"],
    );
  });

  it("the other read commands: aligned tables, and --json that parses", async () => {
    const tables: [string[], string[]][] = [
      [
        ["principals", "list"],
        ["NAME", "POLICIES", "KEYS"],
      ],
      [
        ["keys", "list"],
        ["ACCESS KEY ID", "PRINCIPAL", "STATUS", "ROLE", "CREATED"],
      ],
      [
        ["policies", "list"],
        ["NAME", "TYPE", "ATTACHED", "DESCRIPTION"],
      ],
      [
        ["audit", "--limit", "5"],
        ["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "SOURCE", "RESULT"],
      ],
      [
        ["state", "history", "--limit", "5"],
        ["REV", "TIME"],
      ],
    ];
    for (const [args, header] of tables) {
      const r = await cli(...args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assertAligned(r.stdout, header);
    }
    const reads = [
      ["instances", "list"],
      ["subnets", "list"],
      ["limits", "list"],
      ["certs", "list"],
      ["agents"],
      ["alarms"],
      ["guard", "holds"],
      ["principals", "list"],
      ["keys", "list"],
      ["policies", "list"],
      ["audit"],
      ["state", "history"],
      ["state", "show"],
      ["state", "backups"],
      ["state", "compactions"],
    ];
    for (const args of reads) {
      const r = await cli(...args, "--json");
      assert.ok(r.code === 0 || (args[0] === "alarms" && r.code === 1), `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotThrow(() => JSON.parse(r.stdout), `${args.join(" ")} --json parses`);
    }
  });

  it("an API error: ballast VERB: Code: message, with a hint, exit 1", async () => {
    const bad = await cli("instances", "add", "i-3", "--address", "10.0.0.3", "--zone", "nowhere");
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "");
    assert.match(
      oneLine(bad.stderr),
      /^ballast instances add: InvalidParameterValue: zone must be an Availability Zone name.*got "nowhere" \(.*us-east-1a.*\)$/,
    );
    const missing = await cli("instances", "remove", "i-nope");
    assert.equal(missing.code, 1);
    assert.equal(
      oneLine(missing.stderr),
      "ballast instances remove: NotFound: Instance i-nope is not in the inventory ('ballast instances list' shows the inventory)",
    );
    const denied = await ballast(["limits", "list", "--endpoint", cp.apiUrl], {
      AWS_ACCESS_KEY_ID: "AKIANOBODY0000000000",
      AWS_SECRET_ACCESS_KEY: "x",
    });
    assert.equal(denied.code, 1);
    assert.match(oneLine(denied.stderr), /^ballast limits list: InvalidClientTokenId: /);
  });

  it("with a real agent reporting: the agents table, and a bad zone's hint names the agents' zones", async () => {
    const pool = `127.${2 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.0/24`;
    agent = spawn(
      process.execPath,
      [
        MAIN_JS,
        "agent",
        "--zone",
        "us-east-1b",
        "--pool",
        pool,
        "--control",
        cp.agentUrl,
        "--token-file",
        join(dir, "data", "agent-token"),
        "--data-dir",
        join(dir, "agent"),
      ],
      { env: { ...process.env, BALLAST_LOG_LEVEL: "warn" }, stdio: "ignore" },
    );
    const deadline = Date.now() + 30_000;
    let agents: { agentId: string; fresh: boolean }[] = [];
    while (Date.now() < deadline && !agents.some((a) => a.fresh)) {
      await new Promise((r) => setTimeout(r, 300));
      const r = await cli("agents", "--json");
      agents = r.code === 0 ? (JSON.parse(r.stdout) as { agents: typeof agents }).agents : [];
    }
    assert.deepEqual(
      agents.map((a) => a.agentId),
      ["agent-us-east-1b"],
    );
    const table = await cli("agents");
    assert.equal(table.code, 0, table.stderr);
    const [row] = assertAligned(table.stdout, [
      "AGENT",
      "ZONE",
      "STATE",
      "REVISION",
      "BEHIND",
      "NODES",
      "UNEXPLAINED",
      "REFUSED",
    ]);
    assert.match(row ?? "", /^agent-us-east-1b\s+us-east-1b\s+connected\s+\d+\s+\d+\s+0\s+0\s+-$/);
    const bad = await cli("instances", "add", "i-4", "--address", "10.0.0.4", "--zone", "us-east-1");
    assert.equal(bad.code, 1);
    assert.match(
      oneLine(bad.stderr),
      /^ballast instances add: InvalidParameterValue: .* \(the agents serve us-east-1b\)$/,
    );
  });

  it("an AWS XML error reads as its code and message", async () => {
    const res = await new SignedClient(cp.apiUrl, ADMIN).send(
      "POST",
      "/",
      "Action=DescribeLoadBalancers&Version=2012-06-01&LoadBalancerNames.member.1=absent",
      "application/x-www-form-urlencoded",
    );
    assert.equal(res.status, 400);
    assert.match(res.body, /^<\?xml|<ErrorResponse/);
    const e = apiErrorOf(res.status, res.body);
    assert.equal(e.code, "LoadBalancerNotFound");
    assert.match(e.message, /absent/);
  });

  it("a refused connection: one line asking whether the control plane runs", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const r = await ballast(["instances", "list", "--endpoint", `http://127.0.0.1:${closed}`], KEY_ENV);
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      `ballast instances list: ConnectionRefused: nothing is listening at http://127.0.0.1:${closed} (is the control plane running? start it with 'ballast up', or give its URL with --endpoint)`,
    );
  });

  it("a missing credentials file: one line, no stack; BALLAST_DEBUG=1 adds the stack", async () => {
    const args = ["agents", "--endpoint", cp.apiUrl, "--data-dir", join(dir, "absent")];
    const r = await ballast(args);
    assert.equal(r.code, 1);
    assert.match(
      oneLine(r.stderr),
      /^ballast agents: NoCredentials: .*absent\/bootstrap-credentials does not exist \(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point --data-dir/,
    );
    const debug = await ballast(args, { BALLAST_DEBUG: "1" });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /\n\s+at /);
  });

  it("a missing certificate file: one line naming the flag and the file", async () => {
    const r = await cli("certs", "upload", "x", "--cert", join(dir, "nope.crt"), "--key", join(dir, "c.key"));
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      `ballast certs upload: FileNotFound: --cert ${join(dir, "nope.crt")}: no such file (--cert takes a PEM file)`,
    );
    const doc = await cli("policies", "put", "P", "--document", join(dir, "nope.json"));
    assert.equal(doc.code, 1);
    assert.match(oneLine(doc.stderr), /^ballast policies put: FileNotFound: .*nope\.json does not exist$/);
  });
});
