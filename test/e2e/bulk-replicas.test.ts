/**
 * The bulk-change window is one for every replica: two `ballast control` processes on one real
 * PostgreSQL, the AWS SDK deleting load balancers through both. 6 deletions through replica A and
 * 4 through B pass; the 11th, through B, is refused with 403 ChangeTicketRequired and changes
 * nothing; with a change ticket a second principal approved it runs. Before the window was
 * shared, each replica counted only its own calls and a principal alternating between them could
 * remove twice the threshold.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { SignedClient } from "../../src/cli/signed-client.js";
import { sdkError } from "../api/support.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { ticketFor } from "../support/tickets.js";
import { ACCESS_KEY_ID, SECRET_ACCESS_KEY, sdkClient, startReplica, tempDir } from "./support.js";

const ADMIN = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };

/** The SDK client sending `x-ballast-ticket` with every request. */
function withTicket(client: ElasticLoadBalancingClient, ticket: string): ElasticLoadBalancingClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-ballast-ticket"] = ticket;
      return next(args);
    },
    { step: "build", name: "change-ticket" },
  );
  return client;
}

describe("the bulk-change window across PostgreSQL replicas", () => {
  let pg: PostgresServer;
  const procs: ChildProcess[] = [];
  const clients: ElasticLoadBalancingClient[] = [];
  let a: { proc: ChildProcess; apiUrl: string };
  let b: { proc: ChildProcess; apiUrl: string };

  before(async () => {
    pg = await startPostgres();
    const dirA = tempDir("bulk-a");
    const dirB = tempDir("bulk-b");
    a = await startReplica(dirA, pg.url, { BALLAST_LOG_LEVEL: "info" });
    procs.push(a.proc);
    for (const f of ["secret.key", "agent-token"]) copyFileSync(join(dirA, f), join(dirB, f));
    b = await startReplica(dirB, pg.url, { BALLAST_LOG_LEVEL: "info" });
    procs.push(b.proc);
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await pg?.stop();
  });

  it("6 deletions through A and 4 through B pass; the 11th through B needs a ticket", async () => {
    const elbA = sdkClient(a.apiUrl);
    const elbB = sdkClient(b.apiUrl);
    clients.push(elbA, elbB);
    for (let i = 0; i < 12; i++)
      await elbA.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: `bulk-${i}`,
          Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
          AvailabilityZones: ["us-east-1a"],
        }),
      );
    for (let i = 0; i < 6; i++)
      await elbA.send(new DeleteLoadBalancerCommand({ LoadBalancerName: `bulk-${i}` }));
    for (let i = 6; i < 10; i++)
      await elbB.send(new DeleteLoadBalancerCommand({ LoadBalancerName: `bulk-${i}` }));

    const refused = await sdkError(() =>
      elbB.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-10" })),
    );
    assert.equal(refused.code ?? refused.name, "ChangeTicketRequired");
    assert.equal(refused.status, 403);
    assert.match(refused.message, /would make 11 load balancers changed by .* within a minute/);
    // Through A too: the refused call took its count back, the window still holds 10.
    const refusedA = await sdkError(() =>
      elbA.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-10" })),
    );
    assert.match(refusedA.message, /would make 11 load balancers/);
    const still = await elbB.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["bulk-10"] }));
    assert.equal(still.LoadBalancerDescriptions?.length, 1, "the refused deletion changed nothing");

    // A second principal approves a ticket; with it the 11th runs through B.
    const admin = new SignedClient(a.apiUrl, ADMIN);
    const put = await admin.json<unknown>("PUT", "/admin/v1/principals/approver", {
      policies: ["BallastApprover"],
    });
    assert.ok(put);
    const { accessKey } = await admin.json<{ accessKey: { accessKeyId: string; secretAccessKey: string } }>(
      "POST",
      "/admin/v1/principals/approver/keys",
    );
    const ticket = await ticketFor(a.apiUrl, ADMIN, accessKey, ["elasticloadbalancing:DeleteLoadBalancer"]);
    const ticketed = withTicket(sdkClient(b.apiUrl), ticket);
    clients.push(ticketed);
    await ticketed.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-10" }));
    const left = await elbB.send(new DescribeLoadBalancersCommand({}));
    assert.deepEqual(
      (left.LoadBalancerDescriptions ?? []).map((d) => d.LoadBalancerName),
      ["bulk-11"],
      "eleven deleted, one left",
    );
  });
});
