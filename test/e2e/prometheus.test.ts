/**
 * A real Prometheus scrapes a real `ballast up` through the `prometheus-targets.json` it writes,
 * while traffic flows through a load balancer to real back ends; every query of the Grafana
 * dashboard in deploy/grafana returns data through Prometheus' HTTP API, and every exposition
 * passes `promtool check metrics`. An agent killed with SIGKILL comes back on a new port, and
 * the targets file follows it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  ModifyLoadBalancerAttributesCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { freePort } from "../proxy/helpers.js";
import { promtoolCheckMetrics } from "../support/promtool.js";
import {
  Backend,
  createHttpLoadBalancer,
  nodesInDns,
  type RunningUp,
  registerInService,
  sdkClient,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const DASHBOARD = resolve(import.meta.dirname, "../../../deploy/grafana/ballast-dashboard.json");
const LB = "prom-lb";
const LB_PORT = 8097;
/** This run's own pools (127.0.N.0/24 and N+1) and back-end addresses. */
const OCTET = 150 + 2 * Math.floor(Math.random() * 45);
const BACKEND_NET = `127.${60 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 250)}`;

interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

interface DashboardPanel {
  title: string;
  targets?: { expr: string }[];
}

/** Every PromQL expression of the dashboard, with Grafana's variables given values. */
function dashboardQueries(): { panel: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: DashboardPanel[] };
  return dash.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll("$__rate_interval", "15s").replaceAll("$load_balancer", ".*"),
    })),
  );
}

describe("Prometheus scrapes every Ballast process and the dashboard's queries return data", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  let prom: ChildProcess | undefined;
  let promUrl = "";
  let dataDir = "";
  let traffic: NodeJS.Timeout | undefined;
  let backendPort = 0;
  let backends: Backend[] = [];

  before(async () => {
    backendPort = await freePort(`${BACKEND_NET}.1`);
    backends = [1, 2].map((n) => new Backend(`b${n}`, `${BACKEND_NET}.${n}`, backendPort));
    for (const b of backends) await b.start();
    dataDir = tempDir("prometheus");
    up = await startUp({ dataDir, poolOctet: OCTET });
    elb = sdkClient(up.apiUrl);
    const dnsName = await createHttpLoadBalancer(elb, LB, LB_PORT, backendPort);
    // Back ends registered by address sit in the first zone: cross-zone lets both nodes serve.
    await elb.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerName: LB,
        LoadBalancerAttributes: { CrossZoneLoadBalancing: { Enabled: true } },
      }),
    );
    await registerInService(elb, LB, backends, backendPort);
    const nodes = await nodesInDns(up.dnsPort, dnsName, 2);
    // Traffic for the whole test: one request through each node every 100 ms, an API call a second.
    let tick = 0;
    traffic = setInterval(() => {
      if (tick++ % 10 === 0)
        elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [LB] })).catch(() => {});
      for (const n of nodes)
        fetch(`http://${n}:${LB_PORT}/`, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.arrayBuffer())
          .catch(() => {});
    }, 100);

    const promDir = tempDir("prometheus-tsdb");
    writeFileSync(
      join(promDir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: ballast",
        "    file_sd_configs:",
        `      - files: ["${join(dataDir, "prometheus-targets.json")}"]`,
        "        refresh_interval: 1s",
        "",
      ].join("\n"),
    );
    // A free port can be taken between finding and binding it: try another.
    for (let attempt = 0; attempt < 3 && promUrl === ""; attempt++) {
      const port = await freePort("127.0.0.1");
      const p = spawn(
        "prometheus",
        [
          `--config.file=${join(promDir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(promDir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`,
          "--log.level=warn",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let log = "";
      p.stderr?.on("data", (d: Buffer) => {
        log += d.toString();
      });
      try {
        await waitFor(
          async () => {
            if (p.exitCode !== null) throw new Error(`prometheus exited ${p.exitCode}: ${log}`);
            return (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok;
          },
          { timeoutMs: 30_000, what: "prometheus ready" },
        );
        prom = p;
        promUrl = `http://127.0.0.1:${port}`;
      } catch (e) {
        p.kill("SIGKILL");
        if (attempt === 2) throw e;
      }
    }
  });

  after(async () => {
    if (traffic !== undefined) clearInterval(traffic);
    if (prom !== undefined && prom.exitCode === null) {
      const exited = once(prom, "exit");
      prom.kill("SIGTERM");
      await exited;
    }
    elb?.destroy();
    await up?.stop();
    for (const b of backends) await b.stop();
  });

  const targetsFile = async (): Promise<TargetGroup[]> =>
    JSON.parse(await readFile(join(dataDir, "prometheus-targets.json"), "utf8")) as TargetGroup[];

  interface Sample {
    metric: Record<string, string>;
    value: [number, string];
  }
  const query = async (expr: string): Promise<Sample[]> => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: Sample[] } };
    if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
    return body.data?.result ?? [];
  };
  /** Data: at least one series with a number (a quantile over no observations is NaN: not data). */
  const hasData = (samples: readonly Sample[]): boolean =>
    samples.some((x) => Number.isFinite(Number(x.value[1])));

  it("lists the control plane and both agents in the targets file, each with its job and zone", async () => {
    const groups = await targetsFile();
    assert.deepEqual(
      groups.map((g) => [g.labels.job, g.labels.zone]),
      [
        ["ballast-control", undefined],
        ["ballast-agent", "us-east-1a"],
        ["ballast-agent", "us-east-1b"],
      ],
    );
    assert.deepEqual(groups[0]?.targets, [`127.0.0.1:${up.apiPort}`]);
    for (const g of groups) {
      assert.match(
        up.output(),
        new RegExp(`http://${g.targets[0]}/metrics`),
        "the banner prints every address",
      );
      const [host, port] = (g.targets[0] as string).split(":");
      for (const path of ["/healthz", "/readyz"]) {
        const r = await fetch(`http://${host}:${port}${path}`);
        assert.equal(r.status, 200, `${g.labels.job} ${path}: ${await r.text()}`);
      }
    }
  });

  it("passes promtool check metrics on every target with traffic flowing", async () => {
    await waitFor(async () => backends.every((b) => b.hits > 10), { what: "traffic at both back ends" });
    for (const g of await targetsFile()) {
      const text = await (await fetch(`http://${g.targets[0]}/metrics`)).text();
      const lint = await promtoolCheckMetrics(text);
      assert.equal(lint.output, "", `${g.labels.job} ${g.labels.zone ?? ""}: ${lint.output}`);
      assert.equal(lint.code, 0);
      if (g.labels.job === "ballast-agent")
        assert.match(
          text,
          new RegExp(
            `ballast_elb_requests_total\\{load_balancer="${LB}",zone="${g.labels.zone}",listener="${LB_PORT}"\\} [1-9]`,
          ),
        );
      else
        assert.match(
          text,
          /ballast_api_requests_total\{action="elasticloadbalancing:CreateLoadBalancer",code="OK"\} 1/,
        );
    }
  });

  it("scrapes every target, and every dashboard query returns data", async () => {
    await waitFor(
      async () => {
        const up3 = await query('up{job=~"ballast-.*"} == 1');
        return up3.length === 3;
      },
      { timeoutMs: 30_000, what: "three targets up in Prometheus" },
    );
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20, `${queries.length} queries in the dashboard`);
    for (const q of queries)
      await waitFor(async () => hasData(await query(q.expr)), {
        timeoutMs: 30_000,
        intervalMs: 500,
        what: `data for "${q.panel}": ${q.expr}`,
      });
    const rate = await query(`sum(rate(ballast_elb_requests_total{load_balancer="${LB}"}[15s]))`);
    assert.ok(Number(rate[0]?.value[1]) > 1, `requests/s through ${LB}: ${JSON.stringify(rate)}`);
    // Per back end: both instances, by the address they were registered with.
    const perBackend = await query(`sum by (backend) (ballast_backend_up{load_balancer="${LB}"})`);
    assert.deepEqual(perBackend.map((r) => r.metric.backend).sort(), backends.map((b) => b.address).sort());
  });

  it("follows an agent that restarts on a new port: the targets file is rewritten and Prometheus scrapes it", async () => {
    const before = await targetsFile();
    const old = before.find((g) => g.labels.zone === "us-east-1a")?.targets[0];
    const pid = Number(readFileSync(join(dataDir, "agents", "us-east-1a", "agent.pid"), "utf8").trim());
    process.kill(pid, "SIGKILL");
    const moved = await waitFor(
      async () => {
        const now = (await targetsFile()).find((g) => g.labels.zone === "us-east-1a")?.targets[0];
        return now !== undefined && now !== old ? now : false;
      },
      { timeoutMs: 30_000, what: "the targets file to name the restarted agent's new address" },
    );
    await waitFor(
      async () => (await query(`up{job="ballast-agent",instance="${moved}"} == 1`)).length === 1,
      { timeoutMs: 30_000, what: "Prometheus scraping the restarted agent" },
    );
  });
});
