/**
 * The control plane's unauthenticated endpoints: /healthz and /readyz on the API port, /metrics
 * there or on --metrics-listen, with the API's calls counted by action and result. /readyz says
 * 503 while the store cannot be read (a real PostgreSQL server, stopped under it).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  type ControlPlaneOptions,
  type RunningControlPlane,
  startControlPlane,
} from "../../src/cli/control-plane.js";
import { silentLogger } from "../../src/util/logger.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { promtoolCheckMetrics } from "../support/promtool.js";

const ADMIN_ID = "AKIAOBSERVABILITY001";
const ADMIN_SECRET = "observability-test-secret-0123456789abcd";

const running: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of running.reverse()) await stop();
});

async function controlPlane(over: Partial<ControlPlaneOptions> = {}): Promise<RunningControlPlane> {
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-observability-"));
  const cp = await startControlPlane({
    dataDir,
    store: "sqlite",
    host: "127.0.0.1",
    apiPort: 0,
    agentPort: 0,
    dnsPort: 0,
    dnsDomain: "ballast.test",
    zones: ["us-east-1a", "us-east-1b"],
    env: { BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ADMIN_ID, BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: ADMIN_SECRET },
    logger: silentLogger,
    ...over,
  });
  running.push(async () => {
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return cp;
}

function sdk(apiUrl: string): ElasticLoadBalancingClient {
  return new ElasticLoadBalancingClient({
    endpoint: apiUrl,
    region: "us-east-1",
    credentials: { accessKeyId: ADMIN_ID, secretAccessKey: ADMIN_SECRET },
    maxAttempts: 1,
  });
}

async function get(url: string): Promise<{ status: number; text: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, text: await r.text(), type: r.headers.get("content-type") ?? "" };
}

function value(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe("control plane observability endpoints", () => {
  it("answer on the API port without credentials; /metrics counts API calls by action and result", async () => {
    const cp = await controlPlane();
    const alive = await get(`${cp.apiUrl}/healthz`);
    assert.equal(alive.status, 200);
    assert.equal(JSON.parse(alive.text).status, "alive");
    const ready = await get(`${cp.apiUrl}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual((({ status, store, driver }) => ({ status, store, driver }))(JSON.parse(ready.text)), {
      status: "ready",
      store: "ok",
      driver: "sqlite",
    });
    assert.ok(["verified", "unchecked"].includes(JSON.parse(ready.text).state), ready.text);
    assert.equal(cp.metricsUrl, `${cp.apiUrl}/metrics`);

    const elb = sdk(cp.apiUrl);
    running.push(async () => elb.destroy());
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "obs",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 80 }],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    await elb.send(new DescribeLoadBalancersCommand({}));
    await assert.rejects(elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["missing"] })));
    // A caller with no signature: counted apart, never as an action.
    assert.equal((await fetch(`${cp.apiUrl}/?Action=DescribeLoadBalancers&Version=2012-06-01`)).status, 403);

    const m = await get(cp.metricsUrl);
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    const action = (a: string, code: string) =>
      value(m.text, `ballast_api_requests_total{action="elasticloadbalancing:${a}",code="${code}"}`);
    assert.equal(action("CreateLoadBalancer", "OK"), 1);
    assert.equal(action("DescribeLoadBalancers", "OK"), 1);
    assert.equal(action("DescribeLoadBalancers", "LoadBalancerNotFound"), 1);
    assert.equal(
      value(m.text, 'ballast_api_requests_total{action="unauthenticated",code="MissingAuthenticationToken"}'),
      1,
    );
    assert.ok(value(m.text, 'ballast_api_request_duration_seconds_count{api="elb"}') >= 4);
    assert.equal(value(m.text, "ballast_load_balancers"), 1);
    assert.equal(value(m.text, "ballast_store_up"), 1);
    assert.ok(value(m.text, "ballast_journal_head_revision") >= 2);
    assert.equal(value(m.text, 'ballast_alarms_active{alarm="journal-damaged"}'), 0);
    assert.equal(value(m.text, "ballast_guard_holds"), 0);
    assert.equal(value(m.text, 'ballast_agents{state="connected"}'), 0);
    assert.ok(value(m.text, "process_resident_memory_bytes") > 0);
    const lint = await promtoolCheckMetrics(m.text);
    assert.equal(lint.output, "", lint.output);
    assert.equal(lint.code, 0);

    assert.equal((await fetch(`${cp.apiUrl}/healthz`, { method: "POST" })).status, 405);
  });

  it("moves /metrics to --metrics-listen; /healthz and /readyz stay on the API port and answer there too", async () => {
    const cp = await controlPlane({ metricsListen: { host: "127.0.0.1", port: 0 } });
    assert.notEqual(cp.metricsUrl, `${cp.apiUrl}/metrics`);
    const own = new URL(cp.metricsUrl);
    const m = await get(cp.metricsUrl);
    assert.equal(m.status, 200);
    assert.match(m.text, /^ballast_store_up 1$/m);
    for (const path of ["/healthz", "/readyz"]) {
      assert.equal((await get(`${cp.apiUrl}${path}`)).status, 200);
      assert.equal((await get(`http://${own.host}${path}`)).status, 200);
    }
    // On the API port, /metrics is now an unsigned AWS request like any other.
    const onApi = await get(`${cp.apiUrl}/metrics`);
    assert.equal(onApi.status, 403);
    assert.match(onApi.text, /MissingAuthenticationToken/);
  });

  it("/readyz is 503 while the store cannot be read, and /healthz stays 200", async () => {
    let pg: PostgresServer | undefined = await startPostgres();
    running.push(async () => pg?.stop());
    const cp = await controlPlane({ store: pg.url });
    const ready = await get(`${cp.apiUrl}/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.equal(JSON.parse(ready.text).driver, "postgres");

    await pg.stop();
    pg = undefined;
    const down = await get(`${cp.apiUrl}/readyz`);
    assert.equal(down.status, 503, down.text);
    assert.deepEqual((({ status, store }) => ({ status, store }))(JSON.parse(down.text)), {
      status: "not ready",
      store: "unreadable",
    });
    assert.doesNotMatch(down.text, /postgres:\/\//, "no connection string in an unauthenticated answer");
    assert.equal((await get(`${cp.apiUrl}/healthz`)).status, 200);
    const m = await get(cp.metricsUrl);
    assert.equal(m.status, 200);
    assert.match(m.text, /^ballast_store_up 0$/m);
    assert.equal((await promtoolCheckMetrics(m.text)).output, "");
  });
});
