/**
 * `ballast up` restarted after it crashed: its agents' keepers outlived it. A new `ballast agent`
 * for the same directory does not stop the running keeper (that would close the sockets and
 * refuse connections, as it did before the keeper): it hands over its flags — here a control plane
 * at a new address — and the keeper reloads its worker with them, refusing nothing. The new
 * process stands in for the keeper: stopping it stops the agent.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AgentStatus } from "../../src/model/agent-protocol.js";
import { closeServer, type EchoBackend, echoBackend, fetchRaw, freePort } from "../proxy/helpers.js";
import {
  type AgentDir,
  agentDir,
  alive,
  clientLoop,
  collectLog,
  randomPool,
  startAgent,
  stopProcess,
  workerPid,
} from "./agent-handover.js";
import { waitFor } from "./support.js";

describe("e2e: a new agent for a directory whose keeper still runs adopts it", () => {
  const { pool, node } = randomPool();
  const NODE = node(1);
  let b: EchoBackend;
  let port = 0;
  let agent: AgentDir;
  let first: ReturnType<typeof startAgent>;
  let second: ReturnType<typeof startAgent> | undefined;
  let control: Server;
  const statuses: AgentStatus[] = [];

  before(async () => {
    b = await echoBackend("b0", "127.0.0.1");
    port = await freePort(NODE);
    // The first agent follows a control plane that is gone (the crashed `ballast up`).
    agent = await agentDir("agent-adopt", pool, b.port, [{ name: "web", address: NODE, port }]);
    first = startAgent(agent.args);
    await waitFor(async () => (await fetchRaw(NODE, port, "/")).status === 200, {
      what: "the first agent serving",
    });
    control = createServer((req, res) => {
      if (req.url?.startsWith("/agent/v1/config")) {
        setTimeout(() => res.writeHead(204).end(), 300);
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
  });

  after(async () => {
    if (second !== undefined) await stopProcess(second);
    await stopProcess(first);
    control.closeAllConnections();
    control.close();
    await closeServer(b.server);
  });

  it("reloads the running keeper's worker with the new flags: 0 refused, and stops with the new process", async (t) => {
    const keeper = Number(readFileSync(join(agent.dir, "agent.pid"), "utf8"));
    const oldWorker = workerPid(agent.dir);
    const client = clientLoop(NODE, port, 8);
    await new Promise((r) => setTimeout(r, 300));
    const newControl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
    const args = agent.args.map((a, i) => (agent.args[i - 1] === "--control" ? newControl : a));
    second = startAgent(args);
    const log = collectLog(second);
    await waitFor(async () => statuses.length > 0, { what: "a status report at the new control plane" });
    const tally = await client.stop();
    t.diagnostic(`traffic across the adoption: ${JSON.stringify(tally)}`);
    assert.equal(tally.refused, 0, "no connection refused");
    assert.equal(tally.reset + tally.other + tally.badStatus, 0, `no failure: ${tally.errors.join(",")}`);
    assert.ok(tally.ok > 0);
    assert.equal(
      Number(readFileSync(join(agent.dir, "agent.pid"), "utf8")),
      keeper,
      "the keeper kept running",
    );
    assert.ok(alive(keeper));
    assert.notEqual(workerPid(agent.dir), oldWorker, "a new worker serves");
    assert.match(log(), /an agent keeper already runs for this directory/);

    await stopProcess(second);
    second = undefined;
    await waitFor(async () => !alive(keeper), { what: "the adopted keeper to stop with its stand-in" });
  });
});
