/**
 * The December 2012 drill with the real `ballast state` command against a real `ballast up`: a
 * load balancer deleted by mistake is found in the diff, restored from the journal and served
 * again; the restore is undone and redone; the journal verifies, exports and imports; and state
 * deleted behind the journal's back is repaired by the controller on its own.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import Database from "better-sqlite3";
import { parseExport } from "../../src/store/ops/export.js";
import {
  ACCESS_KEY_ID,
  Backend,
  MAIN_JS,
  type RunningUp,
  SECRET_ACCESS_KEY,
  sdkClient,
  sprayDns,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const LB_PORT = 8147;
const BACKEND_PORT = 9147;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("e2e: ballast state — find, restore, undo, verify, export and import", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  let dataDir: string;
  const backend = new Backend("shop-1", "127.0.57.1", BACKEND_PORT);
  let beforeDelete = 0;
  let restoredAt = 0;
  /** The approved change ticket restores, imports and the repair run under, once it exists. */
  let ticket: string | undefined;
  /** The approver's key: the second person of the two-person rule. */
  let approver: { accessKeyId: string; secretAccessKey: string } | undefined;

  before(async () => {
    await backend.start();
    dataDir = tempDir("state-cli");
    up = await startUp({ dataDir, poolOctet: 47 });
    elb = sdkClient(up.apiUrl);
  });
  after(async () => {
    elb?.destroy();
    await up?.stop();
    await backend.stop();
  });

  /** The verbs that take a change ticket get the approved one, once there is one. */
  function state(...args: string[]): Promise<Run> {
    const maintenance = ["restore", "import", "compact", "repair"].includes(args[0] ?? "");
    return cli("state", ...args, ...(ticket === undefined || !maintenance ? [] : ["--ticket", ticket]));
  }

  function cli(command: string, ...args: string[]): Promise<Run> {
    return as({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }, command, ...args);
  }

  function as(
    key: { accessKeyId: string; secretAccessKey: string },
    command: string,
    ...args: string[]
  ): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [MAIN_JS, command, ...args, "--endpoint", up.apiUrl],
        {
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: key.accessKeyId,
            AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
          },
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async function ok(...args: string[]): Promise<string> {
    const r = await state(...args);
    assert.equal(r.code, 0, `ballast state ${args.join(" ")} failed: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  async function names(): Promise<string[]> {
    const d = await elb.send(new DescribeLoadBalancersCommand({}));
    return (d.LoadBalancerDescriptions ?? []).map((l) => l.LoadBalancerName ?? "").sort();
  }

  /** Through the nodes its DNS name answers: the back end is in zone a and cross-zone is off. */
  async function served(lb: string): Promise<void> {
    const d = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [lb] }));
    const dnsName = d.LoadBalancerDescriptions?.[0]?.DNSName ?? "";
    await waitFor(
      async () => (await sprayDns(up.dnsPort, dnsName, LB_PORT, 4)).every((n) => n === backend.name),
      { what: `${lb} to serve from ${backend.name}` },
    );
  }

  it("creates load balancers with the SDK and serves one", async () => {
    for (const [name, port] of [
      ["shop", LB_PORT],
      ["blog", LB_PORT + 1],
    ] as const) {
      await elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: name,
          Listeners: [
            {
              Protocol: "HTTP",
              LoadBalancerPort: port,
              InstanceProtocol: "HTTP",
              InstancePort: BACKEND_PORT,
            },
          ],
          AvailabilityZones: ["us-east-1a", "us-east-1b"],
        }),
      );
    }
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "shop",
        Instances: [{ InstanceId: backend.address }],
      }),
    );
    await served("shop");
  });

  it("the maintenance mistake: a delete shows up in `state diff`", async () => {
    const latest = JSON.parse(await ok("history", "--limit", "1", "--json")) as {
      revisions: { number: number }[];
    };
    beforeDelete = latest.revisions[0]?.number ?? 0;
    assert.ok(beforeDelete > 0);
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "shop" }));
    assert.deepEqual(await names(), ["blog"]);

    const diff = await ok("diff", String(beforeDelete));
    assert.match(diff, /load balancer shop: deleted/);
    assert.doesNotMatch(diff, /blog/);
  });

  it("the two-person rule: a restore needs a ticket the administrator opens and a second principal approves", async () => {
    // Operators' revisions only: the controller's own (placement, PlaceNodes…) may come at any time.
    const head = async () =>
      (
        JSON.parse(await ok("history", "--limit", "200", "--json")) as {
          revisions: { number: number; principal: string }[];
        }
      ).revisions.filter((r) => r.principal !== "ballast-controller").length;
    const first = await head();
    const refused = await state("restore", "--to", String(beforeDelete));
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^ballast state restore: ChangeTicketRequired: ballast:RestoreState restores past state/,
    );
    assert.equal(await head(), first, "the refused restore changed nothing");

    const created = await cli("principals", "create", "approver", "--policy", "BallastApprover");
    assert.equal(created.code, 0, created.stderr);
    const key = await cli("keys", "create", "approver", "--json");
    assert.equal(key.code, 0, key.stderr);
    approver = JSON.parse(key.stdout) as { accessKeyId: string; secretAccessKey: string };
    const before = await head();

    const opened = await cli(
      "tickets",
      "open",
      "--operation",
      "ballast:RestoreState",
      "--operation",
      "ballast:ImportState",
      "--operation",
      "ballast:RepairState",
      "--reason",
      "shop was deleted by mistake",
      "--json",
    );
    assert.equal(opened.code, 0, opened.stderr);
    const id = (JSON.parse(opened.stdout) as { id: string; state: string }).id;
    const self = await cli("tickets", "approve", id);
    assert.equal(self.code, 1);
    assert.match(
      self.stderr,
      /^ballast tickets approve: AccessDenied: admin opened change ticket tkt-[0-9a-f]{16} and can never approve it/,
    );
    const pending = await state("restore", "--to", String(beforeDelete), "--ticket", id);
    assert.match(pending.stderr, /InvalidChangeTicket: Change ticket tkt-[0-9a-f]{16} is pending/);

    const approved = await as(approver, "tickets", "approve", id, "--comment", "checked the diff");
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^state\s+approved$/m);
    assert.match(approved.stdout, /approved by approver at .*: checked the diff/);
    const listed = await as(approver, "tickets", "list", "--state", "approved");
    assert.match(listed.stdout, new RegExp(`^${id}\\s+approved\\s+admin\\s+ballast:RestoreState`));
    assert.equal(await head(), before, "nothing changed before the approval");
    ticket = id;
  });

  it("`state restore --to <revision before>` brings it back, and an agent serves it again", async () => {
    const out = await ok("restore", "--to", String(beforeDelete));
    assert.match(out, new RegExp(`restored revision ${beforeDelete} as revision (\\d+) \\(RestoreState by `));
    assert.match(out, /load balancer shop: created/);
    restoredAt = Number(/as revision (\d+)/.exec(out)?.[1]);
    assert.match(out, new RegExp(`undo with: ballast state restore --to ${restoredAt - 1}`));
    assert.deepEqual(await names(), ["blog", "shop"]);
    await served("shop");
  });

  it("`state history --lb` lists the revisions that touched it", async () => {
    const out = await ok("history", "--lb", "shop");
    const rows = out.trim().split("\n");
    assert.match(rows[0] ?? "", /^REV\s+TIME\s+PRINCIPAL\s+ACTION\s+CHANGE/);
    const actions = rows.slice(1).map((r) => r.split(/\s+/).slice(3, 5).join(" "));
    assert.deepEqual(actions, [
      "RestoreState created",
      "DeleteLoadBalancer deleted",
      "RegisterInstancesWithLoadBalancer modified",
      "CreateLoadBalancer created",
    ]);
    assert.match(rows[1] ?? "", new RegExp(`^${restoredAt}\\s`));
  });

  it("undoing the restore works, and so does redoing it", async () => {
    const undo = await ok("restore", "--to", String(restoredAt - 1));
    assert.match(undo, /load balancer shop: deleted/);
    assert.deepEqual(await names(), ["blog"]);
    const redo = await ok("restore", "--to", String(restoredAt), "--lb", "shop");
    assert.match(redo, /load balancer shop: created/);
    assert.deepEqual(await names(), ["blog", "shop"]);
  });

  it("restore to a revision that does not exist fails and changes nothing", async () => {
    const head = (await names()).length;
    const r = await state("restore", "--to", "99999");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NotFound: revision 99999 does not exist/);
    assert.equal((await names()).length, head);
  });

  it("`state verify` passes", async () => {
    const out = await ok("verify");
    assert.match(out, /^journal verified: \d+ revisions/);
  });

  it("`state export` then `state import` round-trips", async () => {
    const file = join(dataDir, "export.json");
    const out = await ok("export", "--out", file);
    assert.match(out, /exported revision \d+ \(\d+ entities\)/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const doc = parseExport(await ok("export"));
    assert.ok(doc.entities.some((e) => e.kind === "loadBalancer" && e.key === "shop"));

    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "blog" }));
    const imported = await ok("import", file);
    assert.match(imported, /imported the export of revision \d+ as revision \d+ \(ImportState by /);
    assert.match(imported, /load balancer blog: created/);
    assert.deepEqual(await names(), ["blog", "shop"]);
    const again = await ok("import", file);
    assert.match(again, /nothing was written/);
  });

  it("backups can be taken and listed", async () => {
    const created = await ok("backups", "--create");
    assert.match(created, /^backup written: ballast-state-\d+-\S+\.json \(revision \d+\)/);
    const list = await ok("backups");
    assert.match(list, /^REVISION\s+TAKEN\s+FILE/);
    assert.match(list, /ballast-state-\d+-/);
  });

  it("state deleted behind the journal's back is repaired by the controller within 10 s, as a revision that says so", async () => {
    const db = new Database(join(dataDir, "ballast.db"));
    const t0 = Date.now();
    try {
      db.prepare("DELETE FROM current WHERE kind = 'loadBalancer' AND key = 'blog'").run();
    } finally {
      db.close();
    }
    await waitFor(async () => (await names()).includes("blog"), {
      what: "blog to be described again",
      timeoutMs: 10_000,
    });
    assert.ok(Date.now() - t0 < 10_000);
    const history = await ok("history", "--lb", "blog");
    assert.match(history.trim().split("\n")[1] ?? "", /ballast-controller\s+RepairCurrentState\s+modified/);
    assert.match(await ok("verify"), /^journal verified/);
    const alarms = await cli("alarms");
    assert.equal(alarms.code, 0, alarms.stdout + alarms.stderr);
    assert.match(
      alarms.stdout,
      /^state: verified at revision \d+ \(checked .*; 1 automatic repair\(s\) since start\)/,
    );
    assert.match(alarms.stdout, /held changes: none/);
    const agents = await cli("agents");
    assert.equal(agents.code, 0, agents.stderr);
    assert.match(agents.stdout, /^AGENT\s+ZONE\s+STATE\s+REVISION\s+BEHIND\s+NODES\s+UNEXPLAINED\s+REFUSED/);
    assert.match(agents.stdout, /us-east-1a\s+connected\s+\d+/);
    assert.match(agents.stdout, /us-east-1b\s+connected\s+\d+/);
  });

  it("a damaged journal puts the service in read-only mode; `state repair` shows its plan, applies only with --reason, and leaves a verified, writable journal", async () => {
    const db = new Database(join(dataDir, "ballast.db"));
    try {
      for (const t of ["revisions", "versions", "compactions"]) {
        db.exec(`DROP TRIGGER IF EXISTS ${t}_no_update`);
        db.exec(`DROP TRIGGER IF EXISTS ${t}_no_delete`);
      }
      assert.ok(db.prepare("DELETE FROM versions WHERE revision = 2").run().changes > 0);
    } finally {
      db.close();
    }
    await waitFor(
      async () => {
        try {
          await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "no-such-lb" }));
          return false;
        } catch (e) {
          return (e as Error).name === "ServiceUnavailable";
        }
      },
      { what: "read-only mode", timeoutMs: 10_000 },
    );
    assert.deepEqual(await names(), ["blog", "shop"], "reads still answer");
    const alarmed = await cli("alarms");
    assert.equal(alarmed.code, 1);
    assert.match(alarmed.stdout, /alarm journal-damaged: the journal fails verification at revision 2/);
    assert.match(alarmed.stdout, /READ-ONLY since .*revision 2 \(hash-mismatch.*'ballast state repair'/);
    const verify = await state("verify");
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /revision 2 \(hash-mismatch\)/);

    const plan = await state("repair");
    assert.equal(plan.code, 3, plan.stderr);
    assert.match(plan.stdout, /^the journal is damaged/);
    assert.match(plan.stdout, /revision 2 hash-mismatch/);
    assert.match(plan.stdout, /changes to the current state \(0\)/);
    assert.match(
      plan.stdout,
      /plan only: apply it as revision \d+ with: ballast state repair --apply --reason TEXT/,
    );
    assert.equal((await state("repair", "--apply")).code, 2, "--apply needs --reason");

    const applied = await ok("repair", "--apply", "--reason", "e2e: versions of revision 2 deleted");
    assert.match(applied, /applied: new journal epoch from revision \d+ \(StartJournalEpoch by /);
    assert.match(applied, /the old journal is kept in .*versions_epoch1/);
    assert.match(applied, /state now: verified; changes are accepted again/);
    assert.match(
      await ok("verify"),
      /^journal verified: .*journal epoch from revision \d+, started by .*: tkt-[0-9a-f]{16}; repair: e2e: versions of revision 2 deleted\)/,
    );
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "after-repair",
        Listeners: [
          {
            Protocol: "HTTP",
            LoadBalancerPort: LB_PORT + 2,
            InstanceProtocol: "HTTP",
            InstancePort: BACKEND_PORT,
          },
        ],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    assert.deepEqual(await names(), ["after-repair", "blog", "shop"]);
    await served("shop");
  });
});
