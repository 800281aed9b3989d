/**
 * The operator's load-balancer view end to end, on the real `ballast up` (control plane and two
 * agents as child processes), real back ends on loopback addresses, the AWS SDK and the real
 * `ballast` command: why a back end fails (a 404, a port nobody listens on any more, a back end
 * that never answers) in the admin API and `ballast health` while DescribeInstanceHealth keeps
 * AWS's words, the traffic the agents report as stats, and the routes' errors and permissions.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  ConfigureHealthCheckCommand,
  DescribeInstanceHealthCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { SignedClient } from "../../src/cli/signed-client.js";
import type {
  InstanceView,
  LoadBalancerList,
  LoadBalancerShow,
  LoadBalancerStats,
} from "../../src/model/load-balancer-view.js";
import {
  ACCESS_KEY_ID,
  Backend,
  createHttpLoadBalancer,
  MAIN_JS,
  type RunningUp,
  SECRET_ACCESS_KEY,
  sdkClient,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const run = promisify(execFile);
const FAILED = "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.";
/** Pools 127.0.P.0/24 and 127.0.P+1.0/24, back ends on 127.0.P+2.x: P even, picked at random. */
const POOL_OCTET = 100 + 2 * Math.floor(Math.random() * 60);
const BACKEND_NET = `127.0.${POOL_OCTET + 2}`;
const BACKEND_PORT = 20_000 + Math.floor(Math.random() * 20_000);
const LB_PORT = 41_000 + Math.floor(Math.random() * 20_000);
const ADMIN = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };

interface Key {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

describe("e2e: the operator's load-balancer view", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  let admin: SignedClient;
  const ok = new Backend("ok", `${BACKEND_NET}.1`, BACKEND_PORT);
  const goner = new Backend("goner", `${BACKEND_NET}.4`, BACKEND_PORT);
  const notFoundAddress = `${BACKEND_NET}.2`;
  const silentAddress = `${BACKEND_NET}.3`;
  let notFound: HttpServer;
  let silent: Server;
  const silentSockets = new Set<Socket>();

  const get = async <T>(path: string, key: Key = ADMIN): Promise<{ status: number; body: T }> => {
    const client = key === ADMIN ? admin : new SignedClient(up.apiUrl, key);
    const res = await client.send("GET", path);
    return { status: res.status, body: JSON.parse(res.body) as T };
  };
  const show = async (): Promise<LoadBalancerShow> => {
    const r = await get<LoadBalancerShow>("/admin/v1/load-balancers/view");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const instance = async (id: string): Promise<InstanceView | undefined> =>
    (await show()).instances.find((i) => i.instanceId === id);
  const ballast = async (key: Key, ...args: string[]) => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: key.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    };
    try {
      const r = await run(process.execPath, [MAIN_JS, ...args, "--endpoint", up.apiUrl], {
        env,
        timeout: 60_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
    }
  };

  before(async () => {
    await ok.start();
    await goner.start();
    notFound = createHttpServer((_req, res) => res.writeHead(404).end("not here"));
    notFound.listen(BACKEND_PORT, notFoundAddress);
    await once(notFound, "listening");
    silent = createServer((s) => {
      silentSockets.add(s);
      s.on("close", () => silentSockets.delete(s));
    });
    silent.listen(BACKEND_PORT, silentAddress);
    await once(silent, "listening");
    up = await startUp({ dataDir: tempDir("e2e-lb-view"), poolOctet: POOL_OCTET });
    elb = sdkClient(up.apiUrl);
    admin = new SignedClient(up.apiUrl, ADMIN);
    await createHttpLoadBalancer(elb, "view", LB_PORT, BACKEND_PORT);
    await elb.send(
      new ConfigureHealthCheckCommand({
        LoadBalancerName: "view",
        HealthCheck: {
          Target: `HTTP:${BACKEND_PORT}/health`,
          Interval: 5,
          Timeout: 2,
          UnhealthyThreshold: 2,
          HealthyThreshold: 2,
        },
      }),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "view",
        Instances: [ok.address, notFoundAddress, silentAddress, goner.address].map((a) => ({
          InstanceId: a,
        })),
      }),
    );
  });
  after(async () => {
    elb?.destroy();
    await up?.stop();
    await ok.stop();
    await goner.stop();
    notFound?.closeAllConnections();
    await new Promise<void>((r) => (notFound ? notFound.close(() => r()) : r()));
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  });

  it("a back end answering 404: L7STS/404 in the admin API and `ballast health`, AWS's words in DescribeInstanceHealth", async () => {
    const seen = await waitFor(
      async () => {
        const i = await instance(notFoundAddress);
        return i?.state === "OutOfService" && i.description === FAILED ? i : false;
      },
      { timeoutMs: 40_000, what: "the 404 back end OutOfService" },
    );
    assert.equal(seen.reasonCode, "Instance");
    assert.equal(seen.zone, "us-east-1a");
    assert.equal(seen.lastFailure?.kind, "status");
    assert.equal(seen.lastFailure?.detail, "L7STS/404");
    assert.equal(seen.lastFailure?.status, 404);
    assert.ok(Date.now() - Date.parse(seen.lastFailure?.at ?? "") < 60_000, "a recent failure");

    const h = await elb.send(
      new DescribeInstanceHealthCommand({
        LoadBalancerName: "view",
        Instances: [{ InstanceId: notFoundAddress }],
      }),
    );
    assert.deepEqual(h.InstanceStates, [
      { InstanceId: notFoundAddress, State: "OutOfService", ReasonCode: "Instance", Description: FAILED },
    ]);

    const cli = await ballast(ADMIN, "health", "view");
    assert.equal(cli.code, 0, cli.stderr);
    const line = cli.stdout.split("\n").find((l) => l.startsWith(notFoundAddress)) ?? "";
    assert.match(line, /us-east-1a\s+OutOfService\s+L7STS\/404 \(\d+s ago\)\s+Instance has failed/);
    assert.match(cli.stdout.split("\n")[0] ?? "", /^INSTANCE\s+ZONE\s+STATE\s+REASON\s+DESCRIPTION$/);
    const json = await ballast(ADMIN, "health", "view", "--json");
    const parsed = JSON.parse(json.stdout) as { instances: InstanceView[] };
    const viaJson = parsed.instances.find((i) => i.instanceId === notFoundAddress);
    assert.equal(viaJson?.lastFailure?.status, 404);
  });

  it("a back end that accepts and never answers: timeout, L7TOUT", async () => {
    const seen = await waitFor(
      async () => {
        const i = await instance(silentAddress);
        return i?.lastFailure?.kind === "timeout" ? i : false;
      },
      { timeoutMs: 40_000, what: "a timed-out check of the silent back end" },
    );
    assert.equal(seen.lastFailure?.detail, "L7TOUT");
  });

  it("a back end that stops listening: refused, L4CON refused, after it was InService", async () => {
    await waitFor(async () => (await instance(goner.address))?.state === "InService", {
      timeoutMs: 40_000,
      what: "the back end InService",
    });
    await goner.stop();
    const seen = await waitFor(
      async () => {
        const i = await instance(goner.address);
        return i?.state === "OutOfService" ? i : false;
      },
      { timeoutMs: 40_000, what: "the stopped back end OutOfService" },
    );
    assert.deepEqual(
      { kind: seen.lastFailure?.kind, detail: seen.lastFailure?.detail },
      { kind: "refused", detail: "L4CON refused" },
    );
    assert.equal(seen.description, FAILED);
    const cli = await ballast(ADMIN, "lb", "show", "view");
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(
      cli.stdout,
      new RegExp(`${goner.address.replaceAll(".", "\\.")}\\s+OutOfService\\s+L4CON refused`),
    );
    assert.match(cli.stdout, /LISTENERS\n\s+PROTOCOL\s+PORT\s+INSTANCE/);
    assert.match(cli.stdout, new RegExp(`HTTP\\s+${LB_PORT}\\s+HTTP:${BACKEND_PORT}`));
    assert.match(cli.stdout, /NODES\n\s+ZONE\s+AGENT\s+ADDRESS/);
  });

  it("the view: configuration, nodes, list counts; stats from the agents' traffic", async () => {
    const view = await waitFor(
      async () => {
        const v = await show();
        return v.nodes.length === 2 && v.nodes.every((n) => n.listeners.every((l) => l.bound) && !n.stale)
          ? v
          : false;
      },
      { what: "both nodes reported with their listener bound" },
    );
    assert.deepEqual(view.loadBalancer.listeners, [
      { protocol: "HTTP", port: LB_PORT, instanceProtocol: "HTTP", instancePort: BACKEND_PORT, policies: [] },
    ]);
    assert.equal(view.loadBalancer.healthCheck.target, `HTTP:${BACKEND_PORT}/health`);
    assert.deepEqual(view.loadBalancer.zones, ["us-east-1a", "us-east-1b"]);
    assert.deepEqual(view.nodes.map((n) => n.zone).sort(), ["us-east-1a", "us-east-1b"]);

    const list = await get<LoadBalancerList>("/admin/v1/load-balancers");
    const summary = list.body.loadBalancers.find((l) => l.name === "view");
    assert.deepEqual(summary?.instances, { inService: 1, outOfService: 3, unknown: 0 });
    assert.equal(summary?.region, "us-east-1");
    const listed = await ballast(ADMIN, "lb", "list");
    assert.match(
      listed.stdout,
      /^NAME\s+ZONES\s+LISTENERS\s+IN SERVICE\s+OUT OF SERVICE\s+UNKNOWN\s+DNS NAME$/m,
    );
    assert.match(listed.stdout, /^view\s+us-east-1a,us-east-1b\s+1\s+1\s+3\s+0\s+view-/m);

    // Traffic through zone a's node (its one InService back end) and zone b's (none: ELB's 503).
    const nodeA = view.nodes.find((n) => n.zone === "us-east-1a")?.address ?? "";
    const nodeB = view.nodes.find((n) => n.zone === "us-east-1b")?.address ?? "";
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`http://${i % 4 === 3 ? nodeB : nodeA}:${LB_PORT}/`);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.equal(statuses.filter((s) => s === 200).length, 30);
    assert.equal(statuses.filter((s) => s === 503).length, 10);
    const stats = await waitFor(
      async () => {
        const r = await get<LoadBalancerStats>("/admin/v1/load-balancers/view/stats?seconds=120");
        const total = r.body.points.reduce((n, p) => n + p.requestsPerSecond * r.body.intervalSeconds, 0);
        return total >= 40 ? r.body : false;
      },
      { timeoutMs: 30_000, what: "stats counting the 40 requests" },
    );
    assert.equal(stats.intervalSeconds, 5);
    const ts = stats.points.map((p) => p.t);
    assert.deepEqual(
      ts,
      [...ts].sort((a, b) => a - b),
      "oldest first",
    );
    assert.ok(ts.every((t) => t % 5 === 0 && t * 1000 <= Date.now()));
    const sum = (f: (p: LoadBalancerStats["points"][number]) => number) =>
      stats.points.reduce((n, p) => n + f(p) * stats.intervalSeconds, 0);
    assert.equal(Math.round(sum((p) => p.requestsPerSecond)), 40);
    assert.equal(Math.round(sum((p) => p.http5xxPerSecond)), 10);
    assert.ok(
      stats.points.some((p) => p.latencyP50Seconds > 0 && p.latencyP99Seconds >= p.latencyP50Seconds),
    );
    const shown = await ballast(ADMIN, "lb", "show", "view");
    assert.match(
      shown.stdout,
      /^ {2}traffic {7}last minute \d+\.\d req\/s, 4XX 0\.0\/s, 5XX \d+\.\d\/s; latest p50 /m,
    );
  });

  it("an unknown load balancer is a 404 LoadBalancerNotFound; a bad window is refused; the CLI says so in one line", async () => {
    for (const path of ["/admin/v1/load-balancers/nope", "/admin/v1/load-balancers/nope/stats"]) {
      const r = await get<{ error: { code: string; message: string } }>(path);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, "LoadBalancerNotFound");
      assert.match(r.body.error.message, /nope/);
    }
    const bad = await get<{ error: { code: string } }>("/admin/v1/load-balancers/view/stats?seconds=0");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "InvalidParameterValue");
    const cli = await ballast(ADMIN, "health", "nope");
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.trim().split("\n").length, 1);
    assert.match(cli.stderr, /^ballast health: LoadBalancerNotFound: /);
  });

  it("AccessDenied for a principal without the action; read-only managed policies allow it", async () => {
    const principal = async (name: string, policies: string[]): Promise<Key> => {
      const put = await admin.send(
        "PUT",
        `/admin/v1/principals/${name}`,
        JSON.stringify({ policies }),
        "application/json",
      );
      assert.equal(put.status, 200, put.body);
      const key = await admin.send("POST", `/admin/v1/principals/${name}/keys`, "", "application/json");
      return (JSON.parse(key.body) as { accessKey: Key }).accessKey;
    };
    const elbOnly = await principal("eve", ["ElasticLoadBalancingReadOnly"]);
    const reader = await principal("rita", ["BallastReadOnly"]);
    const denied = await get<{ error: { code: string; message: string } }>(
      "/admin/v1/load-balancers/view",
      elbOnly,
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, "AccessDenied");
    assert.match(
      denied.body.error.message,
      /is not authorized to perform: ballast:GetLoadBalancer on resource: arn:aws:elasticloadbalancing:us-east-1:\d+:loadbalancer\/view$/,
    );
    const listDenied = await get<{ error: { code: string } }>("/admin/v1/load-balancers", elbOnly);
    assert.equal(listDenied.body.error.code, "AccessDenied");
    assert.equal((await get("/admin/v1/load-balancers/view", reader)).status, 200);
    assert.equal((await get("/admin/v1/load-balancers/view/stats", reader)).status, 200);
    assert.equal((await get("/admin/v1/load-balancers", reader)).status, 200);
  });
});
