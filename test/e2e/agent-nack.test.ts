/**
 * A malformed configuration document, end to end: an agent process (keeper and worker) following a
 * control plane that sends a good document, then a malformed one, refuses the malformed one whole
 * (a NACK with its reason in the status report), keeps serving the good one without a single
 * failed request and without restarting, keeps it as its last-known-good file, and takes the next
 * good document.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { readLastKnownGood } from "../../src/agent/last-known-good.js";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import { closeServer, type EchoBackend, echoBackend, fetchRaw, freePort, lbSpec } from "../proxy/helpers.js";
import { aNodeSpec } from "../support/builders.js";
import {
  type AgentDir,
  agentDir,
  alive,
  clientLoop,
  randomPool,
  startAgent,
  stopProcess,
  workerPid,
  ZONE,
} from "./agent-handover.js";
import { waitFor } from "./support.js";

describe("e2e: a malformed configuration document is NACKed and the one before keeps serving", () => {
  const { pool, node } = randomPool();
  const NODE = node(1);
  let b: EchoBackend;
  let port = 0;
  let control: Server;
  let answer: unknown;
  const statuses: AgentStatus[] = [];
  let agent: AgentDir;
  let proc: ReturnType<typeof startAgent>;

  const doc = (revision: number, backendPort: number) => ({
    format: 2,
    revision,
    zone: ZONE,
    loadBalancers: [
      aNodeSpec({
        ...lbSpec(
          "web",
          [{ protocol: "HTTP", loadBalancerPort: port, instanceProtocol: "HTTP", instancePort: backendPort }],
          [],
          {
            target: `HTTP:${backendPort}/health`,
            interval: 1,
            timeout: 0.5,
            unhealthyThreshold: 2,
            healthyThreshold: 2,
          },
          revision,
        ),
        backends: [{ instanceId: "i-1", address: "127.0.0.1", zone: ZONE }],
      }),
    ],
    removals: [],
  });

  before(async () => {
    b = await echoBackend("b0", "127.0.0.1");
    port = await freePort(NODE);
    answer = doc(5, b.port);
    control = createServer((req, res) => {
      if (req.url?.startsWith("/agent/v1/config")) {
        const have = Number(new URL(req.url, "http://x").searchParams.get("have"));
        if (have === (answer as { revision: number }).revision) {
          setTimeout(() => res.writeHead(204).end(), 200);
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
    control.listen(0, "127.0.0.1");
    await once(control, "listening");
    agent = await agentDir(
      "agent-nack",
      pool,
      b.port,
      [],
      [],
      `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    );
    proc = startAgent(agent.args);
    await waitFor(async () => (await fetchRaw(NODE, port, "/")).status === 200, {
      what: "revision 5 served",
    });
  });

  after(async () => {
    await stopProcess(proc);
    control.closeAllConnections();
    control.close();
    await closeServer(b.server);
  });

  it("refuses the malformed document whole, serves on without a failure, then takes the next good one", async (t) => {
    const worker = workerPid(agent.dir);
    const client = clientLoop(NODE, port, 4);
    // Revision 6 names a listener protocol no agent knows, and would move the back-end port.
    const broken = JSON.parse(JSON.stringify(doc(6, b.port + 1))) as {
      loadBalancers: { listeners: { protocol: string }[] }[];
    };
    const listener = broken.loadBalancers[0]?.listeners[0];
    if (listener !== undefined) listener.protocol = "GOPHER";
    answer = broken;
    await waitFor(async () => statuses.at(-1)?.refused?.revision === 6, {
      what: "the NACK in a status report",
    });
    assert.match(statuses.at(-1)?.refused?.reason ?? "", /malformed document/);
    assert.equal(statuses.at(-1)?.configRevision, 5, "the agent still runs revision 5");
    await new Promise((r) => setTimeout(r, 1000));
    const tally = await client.stop();
    t.diagnostic(`traffic across the NACK: ${JSON.stringify(tally)}`);
    assert.equal(
      tally.ok > 0 && tally.refused + tally.reset + tally.badStatus + tally.other,
      0,
      "no request failed",
    );
    assert.equal(
      (await readLastKnownGood(agent.dir))?.revision,
      5,
      "revision 5 stays the last-known-good file",
    );
    assert.equal(workerPid(agent.dir), worker, "the agent did not restart");
    assert.ok(worker !== undefined && alive(worker));

    answer = doc(7, b.port);
    await waitFor(
      async () => statuses.at(-1)?.configRevision === 7 && statuses.at(-1)?.refused === undefined,
      {
        what: "revision 7 accepted",
      },
    );
    assert.equal((await fetchRaw(NODE, port, "/")).status, 200);
  });
});
