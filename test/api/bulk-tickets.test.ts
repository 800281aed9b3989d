/**
 * Bulk removals on the ELB API, through the real AWS SDK: more than the threshold (10) of load
 * balancers deleted by one principal within a minute needs an approved change ticket.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  type ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { approvedTicket } from "../support/tickets.js";
import {
  ADMIN_KEY,
  SECOND_ADMIN_KEY,
  sdkError,
  sender,
  startTestServer,
  type TestServer,
} from "./support.js";

/** The SDK client, sending `x-ballast-ticket` (or break-glass) on every request. */
function withHeader(
  client: ElasticLoadBalancingClient,
  name: string,
  value: string,
): ElasticLoadBalancingClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[name] = value;
      return next(args);
    },
    { step: "build", name: `header-${name}` },
  );
  return client;
}

describe("ELB API: bulk removals need a change ticket", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;

  before(async () => {
    server = await startTestServer();
    elb = server.client();
    for (let i = 0; i < 13; i++)
      await elb.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: `bulk-${i}`,
          Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
          AvailabilityZones: ["us-east-1a"],
        }),
      );
  });
  after(() => server.close());

  it("deleting what does not exist removes nothing and is not counted", async () => {
    for (let i = 0; i < 12; i++)
      await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "never-was" }));
  });

  it("10 deletes in a minute pass; the 11th is refused without a ticket and nothing changes; with one it runs", async () => {
    for (let i = 0; i < 10; i++)
      await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: `bulk-${i}` }));
    const head = await server.store.head();
    const refused = await sdkError(() =>
      elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-10" })),
    );
    assert.equal(refused.code ?? refused.name, "ChangeTicketRequired");
    assert.equal(refused.status, 403);
    assert.match(
      refused.message,
      /elasticloadbalancing:DeleteLoadBalancer would make 11 load balancers changed by alice within a minute/,
    );
    assert.equal(await server.store.head(), head, "nothing changed");

    // Another principal's window is its own.
    const bob = server.client(SECOND_ADMIN_KEY);
    await bob.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-10" }));

    const alice = sender(server.url, ADMIN_KEY);
    const narrow = await approvedTicket(alice, sender(server.url, SECOND_ADMIN_KEY), {
      operations: ["elasticloadbalancing:DeleteLoadBalancer"],
      loadBalancers: ["other-*"],
    });
    const outOfScope = await sdkError(() =>
      withHeader(server.client(), "x-ballast-ticket", narrow).send(
        new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-11" }),
      ),
    );
    assert.equal(outOfScope.code ?? outOfScope.name, "InvalidChangeTicket");
    assert.match(outOfScope.message, /not bulk-11/);

    const id = await approvedTicket(alice, sender(server.url, SECOND_ADMIN_KEY), {
      operations: ["elasticloadbalancing:DeleteLoadBalancer"],
      loadBalancers: ["bulk-*"],
    });
    await withHeader(server.client(), "x-ballast-ticket", id).send(
      new DeleteLoadBalancerCommand({ LoadBalancerName: "bulk-11" }),
    );
    const revision = await server.store.revision(await server.store.head());
    assert.equal(revision?.action, "DeleteLoadBalancer");
    assert.equal(revision?.ticket, id);
  });

  it("deregistering more than 10 instances in one request is a bulk change too", async () => {
    const head = await server.store.head();
    const many = Array.from({ length: 11 }, (_, i) => ({ InstanceId: `i-${String(i).padStart(8, "0")}` }));
    const r = await sdkError(() =>
      server
        .client(SECOND_ADMIN_KEY)
        .send(
          new DeregisterInstancesFromLoadBalancerCommand({ LoadBalancerName: "bulk-12", Instances: many }),
        ),
    );
    assert.equal(r.code ?? r.name, "ChangeTicketRequired");
    assert.match(r.message, /11 instances deregistered/);
    assert.equal(await server.store.head(), head);
  });
});
