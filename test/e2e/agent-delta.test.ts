/**
 * Delta documents between real processes: `ballast control` and `ballast agent`, changes made
 * through the AWS SDK. After its first full document, every change reaches the agent as a delta
 * (its log says so, and its last-known-good log holds one record per delta). The agent is then
 * killed with SIGKILL (keeper and worker), the control plane is stopped, and the agent started
 * again on its data directory serves the final state: the listeners added, not the deleted load
 * balancer.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  CreateLoadBalancerListenersCommand,
  DeleteLoadBalancerCommand,
  DeleteLoadBalancerListenersCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { LKG_LOG_FILE, readLastKnownGood } from "../../src/agent/last-known-good.js";
import { closeServer, type EchoBackend, echoBackend, fetchRaw } from "../proxy/helpers.js";
import { alive, collectLog, randomPool, startAgent, stopProcess, workerPid, ZONE } from "./agent-handover.js";
import { sdkClient, startBallast, tempDir, waitFor } from "./support.js";

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** The "applied configuration" lines of the agent's log, as [revision, delta]. */
function applied(log: string): [number, boolean][] {
  const out: [number, boolean][] = [];
  for (const line of log.split("\n")) {
    if (!line.includes("applied configuration")) continue;
    const rec = JSON.parse(line) as { revision: number; delta: boolean };
    out.push([rec.revision, rec.delta]);
  }
  return out;
}

describe("e2e: changes reach an agent as deltas, and survive its SIGKILL with the control plane down", () => {
  const { pool } = randomPool();
  const controlDir = tempDir("ballast-delta-control-");
  const agentData = tempDir("ballast-delta-agent-");
  let backend: EchoBackend;
  let control: { proc: ChildProcess; output: () => string } | undefined;
  let agent: ChildProcess | undefined;
  let agentLog: () => string = () => "";
  let apiUrl = "";
  let channelUrl = "";
  let apiNode = "";
  const ports = { web: 0, extra: 0, gone: 0, api: 0 };

  const agentArgs = () => [
    "agent",
    "--zone",
    ZONE,
    "--pool",
    pool,
    "--control",
    channelUrl,
    "--token-file",
    join(controlDir, "agent-token"),
    "--data-dir",
    agentData,
  ];

  before(async () => {
    backend = await echoBackend("b0", "127.0.0.1");
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    Object.assign(ports, { web: base, extra: base + 1, gone: base + 2, api: base + 3 });
    control = await startBallast(
      [
        "control",
        "--data-dir",
        controlDir,
        "--api-port",
        "0",
        "--agent-port",
        "0",
        "--dns-port",
        "0",
        "--zones",
        ZONE,
        "--agent-tls",
        "off",
      ],
      "agent channel http",
      { BALLAST_LOG_LEVEL: "info" },
    );
    const m = /API (http:\/\/[^,\s]+), agent channel (http:\/\/[^,\s"]+)/.exec(control.output());
    assert.ok(m, "the control plane says where it listens");
    apiUrl = m[1] ?? "";
    channelUrl = m[2] ?? "";
    agent = startAgent(agentArgs());
    agentLog = collectLog(agent);
    await waitFor(async () => applied(agentLog()).length > 0, { what: "the agent's first document" });
  });

  after(async () => {
    if (agent !== undefined) await stopProcess(agent);
    if (control !== undefined) await stopProcess(control.proc);
    await closeServer(backend.server);
  });

  it("after the first full document, each change arrives as a delta", async (t) => {
    const elb = sdkClient(apiUrl);
    const http = (port: number) => ({
      Protocol: "HTTP",
      LoadBalancerPort: port,
      InstanceProtocol: "HTTP",
      InstancePort: backend.port,
    });
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "web",
        Listeners: [http(ports.web)],
        AvailabilityZones: [ZONE],
      }),
    );
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "api",
        Listeners: [http(ports.api)],
        AvailabilityZones: [ZONE],
      }),
    );
    apiNode = await waitFor(async () => (await readLastKnownGood(agentData))?.addresses.api, {
      what: "api on the agent",
    });
    await elb.send(
      new CreateLoadBalancerListenersCommand({
        LoadBalancerName: "web",
        Listeners: [http(ports.extra), http(ports.gone)],
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: "127.0.0.1" }],
      }),
    );
    await elb.send(
      new DeleteLoadBalancerListenersCommand({ LoadBalancerName: "web", LoadBalancerPorts: [ports.gone] }),
    );
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "api" }));
    elb.destroy();

    const lkg = await waitFor(
      async () => {
        const l = await readLastKnownGood(agentData);
        return l !== undefined && l.addresses.web !== undefined && l.addresses.api === undefined ? l : false;
      },
      { what: "the agent to run the last change" },
    );
    const node = lkg.addresses.web ?? "";
    await waitFor(async () => (await accepts(node, ports.web)) && (await accepts(node, ports.extra)), {
      what: "web's listeners to accept",
    });
    const seen = applied(agentLog());
    t.diagnostic(`documents applied ([revision, delta]): ${JSON.stringify(seen)}`);
    const [first, ...rest] = seen;
    assert.equal(first?.[1], false, "the first document is full");
    assert.ok(rest.length >= 1, `changes were applied after the first document (${JSON.stringify(seen)})`);
    assert.ok(
      rest.every(([, delta]) => delta),
      `every later document is a delta: ${JSON.stringify(seen)}`,
    );
    // One record per delta, each the revision of a delta the agent applied. The controller may
    // still write revisions of its own (placement), so the log is read again after the records.
    const recorded = readFileSync(join(agentData, LKG_LOG_FILE), "utf8")
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { revision: number }).revision);
    const last = Math.max(...recorded);
    const deltas = await waitFor(
      async () => {
        const now = applied(agentLog());
        return now.some(([r]) => r >= last) ? now.filter(([r, d]) => d && r <= last).map(([r]) => r) : false;
      },
      { what: "the log lines of every recorded delta" },
    );
    assert.deepEqual(recorded, deltas, "one last-known-good record per delta");
  });

  it("a SIGKILLed agent started again with the control plane stopped serves the final state", async () => {
    assert.ok(agent !== undefined && control !== undefined);
    const worker = workerPid(agentData);
    assert.ok(worker !== undefined);
    agent.kill("SIGKILL");
    process.kill(worker, "SIGKILL");
    await waitFor(async () => !alive(worker) && agent?.signalCode === "SIGKILL", {
      what: "the agent to die",
    });
    await stopProcess(control.proc);
    control = undefined;
    assert.ok(existsSync(join(agentData, LKG_LOG_FILE)), "the deltas are on disk as a log");

    agent = startAgent(agentArgs());
    agentLog = collectLog(agent);
    const node = (await readLastKnownGood(agentData))?.addresses.web ?? "";
    await waitFor(async () => (await accepts(node, ports.web)) && (await accepts(node, ports.extra)), {
      what: "the restarted agent to serve web's listeners",
    });
    const reply = await fetchRaw(node, ports.web, "/");
    assert.ok(reply.status === 200 || reply.status === 503, `web answers HTTP (${reply.status})`);
    assert.equal(await accepts(node, ports.gone), false, "the deleted listener stays deleted");
    assert.equal(await accepts(apiNode, ports.api), false, "the deleted load balancer is not served");
    assert.match(agentLog(), /serving last-known-good configuration/);
  });
});
