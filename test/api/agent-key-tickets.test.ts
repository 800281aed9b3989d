/**
 * Agents' own keys under the two-person rule: once the installation has a load balancer, making an
 * agent key (it receives the private keys of its zone's certificates) and revoking one (it cuts an
 * agent off) need an approved change ticket for the operation and "*", or break-glass. A fresh
 * installation with no load balancer adds and revokes keys without one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CreateLoadBalancerCommand } from "@aws-sdk/client-elastic-load-balancing";
import { approvedTicket, withTicket } from "../support/tickets.js";
import { ADMIN_KEY, SECOND_ADMIN_KEY, sender, startTestServer, type TestServer } from "./support.js";

const JSON_HEADERS = { "content-type": "application/json" };
const ZONE_BODY = JSON.stringify({ zone: "us-east-1a" });

describe("admin API: agent keys need a change ticket once load balancers exist", () => {
  let server: TestServer;
  let alice: ReturnType<typeof sender>;
  let bob: ReturnType<typeof sender>;

  before(async () => {
    server = await startTestServer();
    alice = sender(server.url, ADMIN_KEY);
    bob = sender(server.url, SECOND_ADMIN_KEY);
  });
  after(() => server.close());

  it("a fresh installation (no load balancer) adds and revokes keys without a ticket", async () => {
    const made = await alice("POST", "/admin/v1/agent-keys/boot-1", ZONE_BODY, JSON_HEADERS);
    assert.equal(made.status, 200, made.body);
    const revision = await server.store.revision(await server.store.head());
    assert.equal(revision?.action, "CreateAgentKey");
    assert.equal(revision?.ticket, undefined);
    const revoked = await alice("POST", "/admin/v1/agent-keys/boot-1/revoke");
    assert.equal(revoked.status, 200, revoked.body);
  });

  it("with a load balancer: refused without a ticket, nothing stored; a ticket for another operation or a narrow scope is refused", async () => {
    await server.client().send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "web",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    const head = await server.store.head();
    const refused = await alice("POST", "/admin/v1/agent-keys/edge-1", ZONE_BODY, JSON_HEADERS);
    assert.equal(refused.status, 403, refused.body);
    const err = (JSON.parse(refused.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, "ChangeTicketRequired");
    assert.match(err.message, /ballast:CreateAgentKey.*private keys/);
    assert.equal(await server.store.get("agentKey", "edge-1"), undefined, "no key was made");
    assert.equal(await server.store.head(), head, "nothing changed");

    const revokeOnly = await approvedTicket(alice, bob, {
      operations: ["ballast:RevokeAgentKey"],
      loadBalancers: ["*"],
    });
    const wrongOp = await alice("POST", "/admin/v1/agent-keys/edge-1", ZONE_BODY, {
      ...JSON_HEADERS,
      ...withTicket(revokeOnly),
    });
    assert.equal(wrongOp.status, 403, wrongOp.body);
    assert.match(wrongOp.body, /InvalidChangeTicket.*not ballast:CreateAgentKey/);

    const narrow = await approvedTicket(alice, bob, {
      operations: ["ballast:CreateAgentKey"],
      loadBalancers: ["web"],
    });
    const tooNarrow = await alice("POST", "/admin/v1/agent-keys/edge-1", ZONE_BODY, {
      ...JSON_HEADERS,
      ...withTicket(narrow),
    });
    assert.equal(tooNarrow.status, 403, tooNarrow.body);
    assert.match(tooNarrow.body, /needs a ticket for \\"\*\\"/);
    assert.equal(await server.store.head(), head, "nothing changed");
  });

  it("an approved ticket makes the key, and the revision carries it; revoking needs its own", async () => {
    const id = await approvedTicket(alice, bob, {
      operations: ["ballast:CreateAgentKey"],
      loadBalancers: ["*"],
    });
    const made = await alice("POST", "/admin/v1/agent-keys/edge-1", ZONE_BODY, {
      ...JSON_HEADERS,
      ...withTicket(id),
    });
    assert.equal(made.status, 200, made.body);
    const credentials = (JSON.parse(made.body) as { credentials: { name: string; secret: string } })
      .credentials;
    assert.equal(credentials.name, "edge-1");
    assert.match(credentials.secret, /.{32,}/);
    const created = await server.store.revision(await server.store.head());
    assert.equal(created?.action, "CreateAgentKey");
    assert.equal(created?.ticket, id);

    const refused = await alice("POST", "/admin/v1/agent-keys/edge-1/revoke");
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /ChangeTicketRequired.*cutting that agent off/);
    assert.equal((await server.store.get("agentKey", "edge-1"))?.doc.revokedTime, undefined);

    const revokeId = await approvedTicket(alice, bob, {
      operations: ["ballast:RevokeAgentKey"],
      loadBalancers: ["*"],
    });
    const revoked = await alice("POST", "/admin/v1/agent-keys/edge-1/revoke", "", withTicket(revokeId));
    assert.equal(revoked.status, 200, revoked.body);
    const revision = await server.store.revision(await server.store.head());
    assert.equal(revision?.action, "RevokeAgentKey");
    assert.equal(revision?.ticket, revokeId);
    assert.ok((await server.store.get("agentKey", "edge-1"))?.doc.revokedTime);
  });

  it("break-glass still works, and the revision says so", async () => {
    const made = await alice("POST", "/admin/v1/agent-keys/edge-2", ZONE_BODY, {
      ...JSON_HEADERS,
      "x-ballast-break-glass": "agent host replaced during an outage",
    });
    assert.equal(made.status, 200, made.body);
    const revision = await server.store.revision(await server.store.head());
    assert.equal(revision?.ticket, "break-glass: agent host replaced during an outage");
  });
});
