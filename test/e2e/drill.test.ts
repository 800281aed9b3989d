/**
 * The christmas-eve drill end to end, on SQLite and on PostgreSQL: `ballast up` with three load
 * balancers serving real back ends, then `ballast drill christmas-eve --journal` as a separate
 * process — current-state rows deleted in the database, then the journal itself damaged (read-only
 * mode, `state repair --apply`) — while this test checks read-only mode through the real SDK.
 * Expected: 0 failed requests, 0 misconfigured load balancers, an empty before/after diff.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { SignedClient } from "../../src/cli/signed-client.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { ticketFor } from "../support/tickets.js";
import {
  ACCESS_KEY_ID,
  Backend,
  createHttpLoadBalancer,
  MAIN_JS,
  type RunningUp,
  registerInService,
  SECRET_ACCESS_KEY,
  sdkClient,
  startUp,
  tempDir,
} from "./support.js";

const BACKEND_PORT = 18_931;

function drillSuite(
  driver: string,
  poolOctet: number,
  backendOctet: number,
  store: () => Promise<string | undefined>,
) {
  describe(`ballast drill christmas-eve (${driver})`, () => {
    let up: RunningUp;
    let elb: ElasticLoadBalancingClient;
    let dataDir: string;
    let storeSpec: string | undefined;
    let ticket = "";
    const backends = [1, 2, 3, 4].map(
      (n) => new Backend(`d${n}`, `127.0.${backendOctet}.${n}`, BACKEND_PORT),
    );

    before(async () => {
      for (const b of backends) await b.start();
      dataDir = tempDir(`e2e-drill-${driver}`);
      storeSpec = await store();
      up = await startUp({ dataDir, poolOctet, ...(storeSpec === undefined ? {} : { store: storeSpec }) });
      elb = sdkClient(up.apiUrl);
      // The repair at the end is maintenance: a ticket the administrator opens and an approver approves.
      const admin = new SignedClient(up.apiUrl, {
        accessKeyId: ACCESS_KEY_ID,
        secretAccessKey: SECRET_ACCESS_KEY,
      });
      const json = "application/json";
      assert.equal(
        (await admin.send("PUT", "/admin/v1/principals/approver", '{"policies":["BallastApprover"]}', json))
          .status,
        200,
      );
      const key = await admin.send("POST", "/admin/v1/principals/approver/keys");
      const approver = (
        JSON.parse(key.body) as { accessKey: { accessKeyId: string; secretAccessKey: string } }
      ).accessKey;
      ticket = await ticketFor(
        up.apiUrl,
        { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
        approver,
        ["ballast:RepairState"],
      );
      await Promise.all(
        ["eve-1", "eve-2", "eve-3"].map(async (name, i) => {
          await createHttpLoadBalancer(elb, name, 18_940 + i, BACKEND_PORT);
          await registerInService(elb, name, [backends[i] as Backend, backends[3] as Backend], BACKEND_PORT);
        }),
      );
    });
    after(async () => {
      await up?.stop();
      for (const b of backends) await b.stop();
    });

    it("keeps serving through deleted state and a damaged journal, refuses changes in read-only mode, and repairs without a trace", async () => {
      const args = [
        MAIN_JS,
        "drill",
        "christmas-eve",
        "--endpoint",
        up.apiUrl,
        "--data-dir",
        dataDir,
        "--dns-port",
        String(up.dnsPort),
        "--journal",
        "--duration",
        "8",
        "--rate",
        "10",
        "--timeout",
        "30",
        "--ticket",
        ticket,
        ...(storeSpec === undefined ? [] : ["--store", storeSpec]),
      ];
      const proc = spawn(process.execPath, args, {
        env: { ...process.env, AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      proc.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      proc.stderr.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
      let done = false;
      void exited.then(() => {
        done = true;
      });

      // Meanwhile, an ordinary client through the real SDK: in read-only mode a CreateLoadBalancer
      // gets ServiceUnavailable naming the incident, and DescribeLoadBalancers still answers.
      let refused: string | undefined;
      let describedWhileReadOnly = 0;
      while (!done && !/dropped the journal's guard/.test(out)) await new Promise((r) => setTimeout(r, 100));
      while (!done && !/new journal epoch/.test(out)) {
        try {
          // The same configuration eve-1 has: while writable ELB answers with its DNS name and
          // changes nothing (so the drill's before/after diff stays empty); read-only refuses it.
          await elb.send(
            new CreateLoadBalancerCommand({
              LoadBalancerName: "eve-1",
              Listeners: [
                {
                  Protocol: "HTTP",
                  LoadBalancerPort: 18_940,
                  InstanceProtocol: "HTTP",
                  InstancePort: BACKEND_PORT,
                },
              ],
              AvailabilityZones: ["us-east-1a", "us-east-1b"],
            }),
          );
        } catch (e) {
          const err = e as Error & { name: string; $metadata?: { httpStatusCode?: number } };
          if (err.name === "ServiceUnavailable") {
            refused ??= `${err.$metadata?.httpStatusCode} ${err.message}`;
            const d = await elb.send(new DescribeLoadBalancersCommand({}));
            if ((d.LoadBalancerDescriptions ?? []).some((lb) => lb.LoadBalancerName === "eve-1"))
              describedWhileReadOnly++;
          }
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      const code = await exited;
      console.log(out);
      assert.equal(code, 0, out);
      assert.match(out, /christmas-eve drill: PASSED/);
      assert.match(out, /eve-1\s+\d+ sent\s+0 failed/);
      assert.match(out, /load balancers misconfigured: none/);
      assert.match(out, /no differences/);
      assert.match(out, /journal damaged: .*\n\s+time to detect \d+\.\d s, time to repair \d+\.\d s/);
      assert.ok(refused, "CreateLoadBalancer was refused in read-only mode");
      assert.match(refused, /^503 Ballast is in read-only mode since .*revision \d+.*ballast state repair/);
      assert.ok(describedWhileReadOnly > 0, "DescribeLoadBalancers answered in read-only mode");
      // Writable again afterwards.
      await elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: "after-drill",
          Listeners: [
            { Protocol: "HTTP", LoadBalancerPort: 18_951, InstanceProtocol: "HTTP", InstancePort: 80 },
          ],
          AvailabilityZones: ["us-east-1a"],
        }),
      );
    });
  });
}

drillSuite("sqlite", 131, 135, async () => undefined);

let pg: PostgresServer | undefined;
after(async () => {
  await pg?.stop();
});
if (process.env.DRILL_PG !== "0")
  drillSuite("postgres", 133, 136, async () => {
    pg = await startPostgres();
    return pg.createDatabase("drill");
  });
