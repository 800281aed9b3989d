/**
 * Ballast across hosts: the control plane in one network namespace, three agents in three others
 * (us-east-1a: a1, a2; us-east-1b: b1), each over TLS with its own key, against back ends in the
 * test's namespace. In order: traffic through the agents; an agent SIGKILLed → its node moves to
 * the other agent of its zone and DNS (the control plane's and the agents') follows; scaling up
 * under a bounded load loop and down after the cool-down; scaling refused with an alarm while the
 * state fails verification; a revoked key refused while the agent keeps serving; most agents dead
 * at once → nothing moves and the breaker's alarm is raised.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  ModifyLoadBalancerAttributesCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { ticketFor } from "../support/tickets.js";
import { type HostAddress, Network } from "./netns.js";
import {
  ACCESS_KEY_ID,
  MAIN_JS,
  resolveA,
  SECRET_ACCESS_KEY,
  sdkClient,
  tempDir,
  waitFor,
} from "./support.js";

const FAILOVER_SECONDS = 4;
/** Not 80: the loopback fallback runs without root. */
const LB_PORT = 8080;
const ZONE_A = "us-east-1a";
const ZONE_B = "us-east-1b";
/** A zone no load balancer uses: the test's fake reporter there can never be given a node. */
const ZONE_GHOST = "us-east-1c";

interface Proc {
  readonly proc: ChildProcess;
  output(): string;
}

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
    BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    BALLAST_LOG_LEVEL: "info",
  };
}

function run(network: Network, host: HostAddress, args: readonly string[]): Proc {
  const proc = network.spawnOn(host, process.execPath, [MAIN_JS, ...args], env());
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return { proc, output: () => out };
}

/** Runs the `ballast` command in the test's namespace and returns its stdout (throws on failure). */
async function cli(args: readonly string[]): Promise<string> {
  const { spawn } = await import("node:child_process");
  const proc = spawn(process.execPath, [MAIN_JS, ...args], { env: env(), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const [code] = (await once(proc, "exit")) as [number | null];
  if (code !== 0) throw new Error(`ballast ${args.join(" ")} exited ${code}: ${err}${out}`);
  return out;
}

function kill(p: Proc | undefined, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (p === undefined || p.proc.exitCode !== null || p.proc.signalCode !== null) return Promise.resolve();
  const exited = once(p.proc, "exit").then(() => undefined);
  p.proc.kill(signal);
  return exited;
}

/** GET / through a node; resolves with the status (0 when the connection fails). */
function get(address: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: address, port, path: "/", timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end();
  });
}

describe("Ballast across hosts", { timeout: 300_000 }, () => {
  const { network, why } = Network.create(4);
  const [cpHost, a1Host, a2Host, b1Host] = network.hosts as [
    HostAddress,
    HostAddress,
    HostAddress,
    HostAddress,
  ];
  const dataDir = tempDir("multihost");
  const apiPort = network.isolated ? 9700 : 20_000 + Math.floor(Math.random() * 20_000);
  const agentPort = apiPort + 1;
  const dnsPort = network.isolated ? 8053 : apiPort + 2;
  const agentDnsPort = network.isolated ? 53 : apiPort + 3;
  const apiUrl = `http://${cpHost.address}:${apiPort}`;
  const agentUrl = `https://${cpHost.address}:${agentPort}`;
  const caFile = join(dataDir, "ca", "ca.crt");
  const agents = new Map<string, Proc>();
  const hostOf: Record<string, HostAddress> = { a1: a1Host, a2: a2Host, b1: b1Host };
  const zoneOf: Record<string, string> = { a1: ZONE_A, a2: ZONE_A, b1: ZONE_B };
  let control: Proc | undefined;
  let backend: Server | undefined;
  let backendPort = 0;
  let dnsName = "";
  const elb = sdkClient(apiUrl);
  const at = ["--endpoint", apiUrl, "--data-dir", dataDir] as const;

  const startAgent = async (name: string): Promise<void> => {
    const host = hostOf[name] as HostAddress;
    const p = run(network, host, [
      "agent",
      "--control",
      agentUrl,
      "--credentials",
      join(dataDir, `${name}.json`),
      "--ca",
      caFile,
      "--region",
      "us-east-1",
      "--pool",
      host.pool,
      "--dns",
      `${host.dnsAddress}:${agentDnsPort}`,
      "--data-dir",
      join(dataDir, `agent-${name}`),
    ]);
    agents.set(name, p);
    await waitFor(async () => p.output().includes("agent started"), { what: `agent ${name} started` });
  };

  /**
   * `it`, and on a failure the control plane's warnings and errors during the test go to the
   * output: these tests wait on the fleet's passes, and a timeout alone says nothing of why.
   */
  const itLogged = (name: string, fn: () => Promise<void>): void => {
    it(name, async () => {
      const from = control?.output().length ?? 0;
      try {
        await fn();
      } catch (e) {
        const lines = (control?.output() ?? "")
          .slice(from)
          .split("\n")
          .filter((l) => /"level":"(warn|error)"/.test(l));
        console.log(
          `control plane warnings and errors during the test (${lines.length}):\n${lines.slice(-40).join("\n")}`,
        );
        throw e;
      }
    });
  };

  /** The control plane's DNS answer for the load balancer. */
  const dns = (): Promise<string[]> => resolveA(dnsPort, dnsName, cpHost.address);
  const inPool = (host: HostAddress, address: string): boolean =>
    address.startsWith(host.pool.slice(0, host.pool.lastIndexOf(".") + 1));
  const alarms = async (): Promise<{
    fleet: { kind: string; message: string }[];
    state: { verified: boolean };
  }> => JSON.parse(await cli(["alarms", "--json", "--endpoint", apiUrl, "--data-dir", dataDir]));
  const metrics = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(`${agentUrl}/metrics`, { ca: readFileSync(caFile) }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.end();
    });

  before(async () => {
    console.log(`# multi-host test runs on ${why}`);
    backend = createServer((req, res) => {
      if (req.url === "/health") res.writeHead(200).end("ok");
      else res.writeHead(200, { "content-type": "text/plain" }).end("hello from the back end");
    });
    backend.listen(0, network.gateway);
    await once(backend, "listening");
    backendPort = (backend.address() as { port: number }).port;

    control = run(network, cpHost, [
      "control",
      "--host",
      cpHost.address,
      "--data-dir",
      dataDir,
      "--api-port",
      String(apiPort),
      "--agent-port",
      String(agentPort),
      "--dns-port",
      String(dnsPort),
      "--zones",
      `${ZONE_A},${ZONE_B},${ZONE_GHOST}`,
      "--failover-timeout",
      String(FAILOVER_SECONDS),
      "--scale-up-connections",
      "8",
      "--scale-up-cooldown",
      "1",
      "--scale-cooldown",
      "6",
    ]);
    await waitFor(async () => control?.output().includes("agents verify the agent channel with --ca"), {
      what: "the control plane with its CA",
      timeoutMs: 30_000,
    });
    for (const name of ["a1", "a2", "b1"])
      await cli([
        "agents",
        "add",
        name,
        "--zone",
        zoneOf[name] as string,
        "--out",
        join(dataDir, `${name}.json`),
        "--endpoint",
        apiUrl,
        "--data-dir",
        dataDir,
      ]);
    for (const name of ["a1", "a2", "b1"]) await startAgent(name);

    const created = await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "web",
        Listeners: [
          {
            Protocol: "HTTP",
            LoadBalancerPort: LB_PORT,
            InstanceProtocol: "HTTP",
            InstancePort: backendPort,
          },
        ],
        AvailabilityZones: [ZONE_A, ZONE_B],
      }),
    );
    dnsName = created.DNSName ?? "";
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerName: "web",
        LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } },
      }),
    );
    await elb.send(
      new ConfigureHealthCheckCommand({
        LoadBalancerName: "web",
        HealthCheck: {
          Target: `HTTP:${backendPort}/health`,
          Interval: 5,
          Timeout: 2,
          UnhealthyThreshold: 2,
          HealthyThreshold: 2,
        },
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: network.gateway }],
      }),
    );
  });

  after(async () => {
    for (const p of agents.values()) await kill(p);
    await kill(control, "SIGTERM");
    if (backend !== undefined) {
      backend.closeAllConnections();
      await new Promise<void>((r) => backend?.close(() => r()));
    }
    network.remove();
  });

  itLogged("serves traffic through agents on other hosts, over TLS with their own keys", async () => {
    const addresses = await waitFor(
      async () => {
        const a = await dns();
        return a.length === 2 ? a : false;
      },
      { what: "two nodes in DNS", timeoutMs: 30_000 },
    );
    // One node in each zone: a1 (first by name) and b1.
    assert.ok(
      addresses.some((a) => inPool(a1Host, a)),
      `a node on a1: ${addresses}`,
    );
    assert.ok(
      addresses.some((a) => inPool(b1Host, a)),
      `a node on b1: ${addresses}`,
    );
    for (const a of addresses)
      assert.equal(await waitFor(async () => (await get(a, LB_PORT)) === 200 && 200), 200);
    // The agent channel speaks TLS only: plain HTTP to it gets no answer.
    assert.equal(await get(cpHost.address, agentPort), 0);
  });

  itLogged("moves a SIGKILLed agent's node to the other agent of its zone, and DNS follows", async () => {
    await kill(agents.get("a1"));
    const killedAt = Date.now();
    const moved = await waitFor(
      async () => {
        const a = await dns();
        return a.length === 2 && a.some((x) => inPool(a2Host, x)) && !a.some((x) => inPool(a1Host, x))
          ? a
          : false;
      },
      { what: "the zone-a node on a2 in DNS", timeoutMs: (FAILOVER_SECONDS + 15) * 1000, intervalMs: 250 },
    );
    const took = (Date.now() - killedAt) / 1000;
    console.log(`# failover: DNS answered a2's node ${took.toFixed(1)} s after a1 was killed`);
    assert.ok(took < FAILOVER_SECONDS + 10, `within the timeout and a few seconds (${took} s)`);
    const onA2 = moved.find((x) => inPool(a2Host, x)) as string;
    assert.equal(await waitFor(async () => (await get(onA2, LB_PORT)) === 200 && 200), 200);
    // The surviving agent's own DNS answers with the new address too.
    await waitFor(
      async () => {
        const a = await resolveA(agentDnsPort, dnsName, b1Host.dnsAddress);
        return a.includes(onA2) && !a.some((x) => inPool(a1Host, x));
      },
      { what: "b1's DNS answer follows", timeoutMs: 15_000 },
    );
    assert.match(await metrics(), /ballast_node_failovers_total [1-9]/);
    const listed = JSON.parse(
      await cli(["agents", "--json", "--endpoint", apiUrl, "--data-dir", dataDir]),
    ) as {
      agents: { agentId: string; placed: number }[];
    };
    const placedOn = Object.fromEntries(listed.agents.map((a) => [a.agentId, a.placed]));
    assert.equal(placedOn.a1, 0);
    assert.equal(placedOn.a2, 1);
    // a1 comes back: it gets nothing back (no flapping).
    await startAgent("a1");
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(!(await dns()).some((x) => inPool(a1Host, x)), "a returning agent gets no node back");
  });

  itLogged("scales a zone up under load and down after the cool-down", async () => {
    const onA2 = (await dns()).find((x) => inPool(a2Host, x)) as string;
    // A bounded load loop: 16 open connections to the zone-a node, each sending a request a second.
    const sockets: Socket[] = [];
    const loadUntil = Date.now() + 40_000;
    const timer = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(`GET / HTTP/1.1\r\nHost: web\r\n\r\n`);
    }, 1000);
    try {
      for (let i = 0; i < 16; i++) {
        const s = connect(LB_PORT, onA2);
        s.on("error", () => {});
        s.on("data", () => {});
        sockets.push(s);
      }
      const scaled = await waitFor(
        async () => {
          if (Date.now() > loadUntil) throw new Error("load loop ended");
          const a = await dns();
          return a.length === 3 && a.some((x) => inPool(a1Host, x)) ? a : false;
        },
        { what: "a second zone-a node (on a1) in DNS", timeoutMs: 40_000, intervalMs: 500 },
      );
      assert.equal(scaled.length, 3, "DNS returns every node");
    } finally {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
    }
    await waitFor(
      async () => {
        const a = await dns();
        return a.length === 2 && !a.some((x) => inPool(a1Host, x));
      },
      { what: "scaled back down to one zone-a node", timeoutMs: 40_000, intervalMs: 500 },
    );
  });

  itLogged("refuses to scale, with an alarm, while the stored state fails verification", async () => {
    // An agent reporting a revision the journal does not have: the state monitor's alarm.
    const token = readFileSync(join(dataDir, "agent-token"), "utf8").trim();
    const ghost = setInterval(() => {
      const req = httpsRequest(
        `${agentUrl}/agent/v1/status`,
        {
          method: "POST",
          ca: readFileSync(caFile),
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        },
        (res) => res.resume(),
      );
      req.on("error", () => {});
      req.end(
        JSON.stringify({
          agentId: "ghost",
          zone: ZONE_GHOST,
          configRevision: 10_000_000,
          nodes: [],
          health: [],
          unexplained: [],
        }),
      );
    }, 1000);
    const onA2 = (await dns()).find((x) => inPool(a2Host, x)) as string;
    const sockets: Socket[] = [];
    try {
      await waitFor(async () => (await alarms()).state.verified === false, {
        what: "the state unverified",
        timeoutMs: 30_000,
        intervalMs: 500,
      });
      for (let i = 0; i < 16; i++) {
        const s = connect(LB_PORT, onA2);
        s.on("error", () => {});
        sockets.push(s);
      }
      const alarm = await waitFor(
        async () => (await alarms()).fleet.find((a) => a.kind === "scaling-refused"),
        { what: "the scaling-refused alarm", timeoutMs: 30_000, intervalMs: 500 },
      );
      assert.match(alarm.message, /fails verification.*web us-east-1a: 1 → 2 nodes/);
      assert.equal((await dns()).length, 2, "no node was added");
      assert.match(await metrics(), /ballast_scaling_refused_total [1-9]/);
    } finally {
      clearInterval(ghost);
      for (const s of sockets) s.destroy();
    }
  });

  itLogged("refuses a revoked key; the agent keeps serving its last-known-good configuration", async () => {
    const onB1 = (await dns()).find((x) => inPool(b1Host, x)) as string;
    assert.ok(onB1, "b1 serves a node");
    // Load balancers exist: revoking a key is maintenance, under a ticket a second principal approved.
    await cli(["principals", "create", "approver", "--policy", "BallastApprover", ...at]);
    const approver = JSON.parse(await cli(["keys", "create", "approver", "--json", ...at])) as {
      accessKeyId: string;
      secretAccessKey: string;
    };
    const admin = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
    const ticket = await ticketFor(apiUrl, admin, approver, ["ballast:RevokeAgentKey"]);
    await assert.rejects(cli(["agents", "revoke", "b1", ...at]), /ChangeTicketRequired/);
    await cli(["agents", "revoke", "b1", "--ticket", ticket, ...at]);
    const creds = JSON.parse(readFileSync(join(dataDir, "b1.json"), "utf8")) as { secret: string };
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        `${agentUrl}/agent/v1/config?zone=${ZONE_B}&have=0`,
        { ca: readFileSync(caFile), headers: { authorization: `Bearer agent.b1.${creds.secret}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 403, "the key is refused from the next request on");
    // The agent's long poll in flight ends (up to 25 s), the next one is refused, and it says so.
    const b1 = agents.get("b1") as Proc;
    await waitFor(async () => b1.output().includes("answered 403"), {
      what: "b1 refused with 403",
      timeoutMs: 45_000,
      intervalMs: 500,
    });
    assert.equal(await get(onB1, LB_PORT), 200, "the revoked agent still serves");
  });

  itLogged("moves nothing and raises the breaker alarm when most agents look dead at once", async () => {
    // b1 (revoked) stops heartbeating; killing a2, which holds the zone-a node, makes 2 of 3 dead.
    const before = /ballast_node_failovers_total (\d+)/.exec(await metrics())?.[1];
    await kill(agents.get("a2"));
    const alarm = await waitFor(
      async () => (await alarms()).fleet.find((a) => a.kind === "failover-suspended"),
      { what: "the breaker alarm", timeoutMs: (FAILOVER_SECONDS + 20) * 1000, intervalMs: 500 },
    );
    // a2 and the revoked b1 hold nodes; a1 lives (the test's own status reporter, gone too, counts as well).
    assert.match(alarm.message, /\d of \d agents stopped heartbeating at once.*a2/);
    await new Promise((r) => setTimeout(r, (FAILOVER_SECONDS + 2) * 1000));
    const m = await metrics();
    assert.match(m, /ballast_failover_breaker_open 1/);
    const failoverLog = (control?.output() ?? "")
      .split("\n")
      .filter((l) => /failed nodes over|breaker/.test(l));
    assert.equal(
      /ballast_node_failovers_total (\d+)/.exec(m)?.[1],
      before,
      `no node moved:\n${failoverLog.join("\n")}`,
    );
    assert.ok(!(await dns()).some((x) => inPool(a1Host, x)), "a1 (alive) was given nothing");
    assert.match(control?.output() ?? "", /failover breaker open/);
  });
});
