import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Agent } from "../../src/agent/agent.js";
import { parseConfig } from "../../src/agent/config-client.js";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import { silentLogger } from "../../src/util/logger.js";
import { waitFor } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";

const ZONE = "us-east-1a";
const good = (revision: number, names: string[]) => ({
  format: 2,
  revision,
  zone: ZONE,
  loadBalancers: names.map((name) => aNodeSpec({ name, listeners: [] })),
  removals: [],
});

describe("a malformed configuration document is refused whole (NACK)", () => {
  it("parseConfig names what is wrong", () => {
    const doc = good(3, ["web"]);
    const broken = JSON.parse(JSON.stringify(doc)) as { loadBalancers: { listeners: unknown[] }[] };
    (broken.loadBalancers[0] as { listeners: unknown[] }).listeners = [{ port: 80, protocol: "HTTP" }];
    assert.throws(() => parseConfig(broken, ZONE), /load balancer web: listener 80: bad protocol or engine/);
    assert.throws(
      () => parseConfig({ ...doc, removals: [{ kind: "everything" }] }, ZONE),
      /malformed removal/,
    );
    assert.throws(
      () => parseConfig({ ...doc, loadBalancers: [{ ...doc.loadBalancers[0], healthCheck: {} }] }, ZONE),
      /bad healthCheck/,
    );
    assert.equal(parseConfig(doc, ZONE).revision, 3);
  });

  it("the agent keeps serving the document before, reports the NACK with its reason, and takes the next good one", async () => {
    let answer: unknown = good(5, ["a", "b"]);
    const statuses: AgentStatus[] = [];
    const server: Server = createServer((req, res) => {
      if (req.url?.startsWith("/agent/v1/config")) {
        const have = Number(new URL(req.url, "http://x").searchParams.get("have"));
        const r = (answer as { revision: number }).revision;
        if (have === r) {
          setTimeout(() => res.writeHead(204).end(), 100);
          return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
        return;
      }
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        statuses.push(JSON.parse(body) as AgentStatus);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const agent = new Agent({
      agentId: "nack-test",
      zone: ZONE,
      pool: "127.0.17.0/24",
      dataDir: mkdtempSync(join(tmpdir(), "ballast-nack-")),
      controlUrls: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      token: "t",
      logger: silentLogger,
      pollWaitSeconds: 1,
      statusIntervalMs: 100,
    });
    after(async () => {
      await agent.stop();
      server.closeAllConnections();
      server.close();
    });
    await agent.start();
    await waitFor("revision 5", () => agent.revision === 5);

    answer = { ...good(6, ["a"]), loadBalancers: [{ name: "a", revision: 6 }] };
    await waitFor("a NACK in the status", () => statuses.at(-1)?.refused?.revision === 6);
    assert.match(
      statuses.at(-1)?.refused?.reason ?? "",
      /malformed document: config document: load balancer a: revision, dnsName or crossZone missing/,
    );
    assert.equal(agent.revision, 5);
    assert.deepEqual(
      agent.status().nodes.map((n) => n.loadBalancer),
      ["a", "b"],
    );

    answer = good(7, ["a", "b", "c"]);
    await waitFor("revision 7", () => agent.revision === 7, 10_000);
    assert.equal(agent.status().refused, undefined);
  });
});
