/**
 * Propagation and agent memory benchmark: how long after an API call returns does an agent serve
 * the change, and what does an idle load balancer cost an agent.
 *
 *   node dist/bench/propagation.js [--lbs 1000,10000] [--trials 20]
 *
 * For each size: the store is preloaded directly with N load balancers (one HTTP listener, zone
 * us-east-1a), `ballast control` and one `ballast agent` (pool 127.1.0.0/16, so every load balancer
 * has a node) are spawned, and once the agent serves them all:
 *   - memory: the agent's RSS with N load balancers against its RSS with none (a first agent
 *     started on an empty store), divided by N;
 *   - propagation: `trials` times, CreateLoadBalancerListeners adds a listener on a new port to
 *     one load balancer through the SDK; from the moment the call returns, the benchmark tries to
 *     connect to the node's new port every millisecond, and records when it first accepts.
 * Everything runs on this machine (loopback); nothing here asserts a time.
 *
 *   node dist/bench/propagation.js --netns [--main PATH/TO/src/cli/main.js] …
 *
 * With --netns, across namespaced hosts: the control plane runs in one network namespace and the
 * agent in another, joined by a veth pair (169.254.R.1 and .2/30, names carrying this process's
 * pid, both namespaces removed at the end); the agent channel is TLS, as between real hosts. The
 * benchmark itself runs in the control plane's namespace (it re-executes itself there), and
 * probes the new port from a small process in the agent's namespace, where the node address is.
 * --main runs another build's `ballast` (the reference, side by side).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  CreateLoadBalancerListenersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { benchLoadBalancer } from "./fixtures.js";
import { onAgentHost, Probe, parseInner, runInNamespaces } from "./propagation-hosts.js";

const { values } = parseArgs({
  options: {
    lbs: { type: "string", default: "1000,10000" },
    trials: { type: "string", default: "20" },
    netns: { type: "boolean", default: false },
    main: { type: "string" },
    /** Run the agent under its keeper (the default for operators); the default here is one process. */
    keeper: { type: "boolean", default: false },
    /** Milliseconds between trials, so a change does not land on the status report of the one before. */
    pause: { type: "string", default: "1000" },
    /**
     * Seconds between the agent serving everything and the first trial: after a start with N load
     * balancers both processes do work of their own for a while (state verification, the first
     * status reports and DNS, garbage collection of the first document); the trials measure a
     * change on a settled system.
     */
    settle: { type: "string", default: "30" },
    /** Set by the benchmark when it re-executes itself in the control plane's namespace. */
    "netns-inner": { type: "string" },
  },
});
const SIZES = values.lbs.split(",").map(Number);
const TRIALS = Number(values.trials);
/** Inside the control plane's namespace: the agent's namespace and the two ends of the veth pair. */
const NETNS = parseInner(values["netns-inner"]);
const ACCESS_KEY_ID = "AKIABENCHPROPAGATE01";
const SECRET = "bench-propagation-secret-0123456789abcdefgh";
const MAIN = values.main ?? new URL("../src/cli/main.js", import.meta.url).pathname;
const ZONE = "us-east-1a";

/** Per agent process: the "applied configuration" lines it logged after it started. */
const appliedLines = new Map<ChildProcess, string[]>();

function spawnBallast(
  args: string[],
  ready: RegExp,
  onAgent = false,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const [cmd, argv] = onAgent
    ? onAgentHost([process.execPath, MAIN, ...args], NETNS)
    : [process.execPath, [MAIN, ...args]];
  const child = spawn(cmd, argv, {
    env: {
      ...process.env,
      BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
      BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET,
      BALLAST_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let found = false;
    const onData = (d: Buffer): void => {
      out += d.toString();
      // Once ready, only what later lines say about applied documents is kept (for the report).
      if (found) {
        const lines = out.split("\n");
        out = lines.pop() ?? "";
        const applied = lines.filter((l) => l.includes("applied configuration"));
        if (applied.length > 0) appliedLines.set(child, [...(appliedLines.get(child) ?? []), ...applied]);
        return;
      }
      const m = ready.exec(out);
      if (m) {
        found = true;
        out = "";
        resolve({ child, match: m });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`ballast ${args[0]} exited (${code}): ${out.slice(-2000)}`)),
    );
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await exited;
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds, polling every `every` ms, for at most `ms`. */
async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  ms: number,
  every = 100,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** `ballast control` on `dir`'s store, on free ports; `match[1]` is the API URL, `match[2]` the agent channel's. */
function startControl(dir: string): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return spawnBallast(
    [
      "control",
      "--data-dir",
      dir,
      "--api-port",
      "0",
      "--agent-port",
      "0",
      "--dns-port",
      "0",
      "--zones",
      ZONE,
      // One host: the agent channel stays plain HTTP on loopback. Across hosts: TLS, its own CA.
      ...(NETNS === undefined ? ["--agent-tls", "off"] : ["--host", NETNS.controlAddress]),
    ],
    NETNS === undefined
      ? /API (https?:\/\/[^,\s]+), agent channel (https?:\/\/[^,\s]+)/
      : /API (https?:\/\/[^,\s]+), agent channel (https?:\/\/[^,\s]+)[\s\S]*verify the agent channel with --ca (\S+)/,
  );
}

interface AgentRun {
  readonly child: ChildProcess;
  readonly dataDir: string;
}

async function startAgent(agentUrl: string, dir: string, ca: string | undefined): Promise<AgentRun> {
  const tokenFile = join(dir, "agent-token");
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-bench-agent-"));
  const { child } = await spawnBallast(
    [
      "agent",
      "--zone",
      ZONE,
      "--pool",
      "127.1.0.0/16",
      "--control",
      agentUrl,
      "--token-file",
      tokenFile,
      "--data-dir",
      dataDir,
      ...(ca === undefined ? [] : ["--ca", ca]),
      // Under a keeper each of the N listening sockets is asked of it over IPC at start, which at
      // 10,000 takes minutes on a loaded machine; the trials measure a change, not the start.
      ...(values.keeper ? [] : ["--single-process"]),
    ],
    /agent started/,
    true,
  );
  return { child, dataDir };
}

/** The node address of each load balancer, from the agent's last-known-good file. */
function nodeAddresses(agent: AgentRun): Record<string, string> {
  try {
    return (
      JSON.parse(readFileSync(join(agent.dataDir, "last-known-good.json"), "utf8")) as {
        addresses: Record<string, string>;
      }
    ).addresses;
  } catch {
    return {};
  }
}

async function runSize(n: number): Promise<void> {
  const started: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), "ballast-bench-propagation-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  try {
    // A control plane on an empty store first: the agent's RSS with no load balancer.
    const empty = await startControl(dir);
    const agentUrl = empty.match[2] ?? "";
    const idle = await startAgent(agentUrl, dir, empty.match[3]);
    await sleep(3000);
    const baseKiB = rssKiB(idle.child.pid ?? 0);
    await stop(idle.child);
    rmSync(idle.dataDir, { recursive: true, force: true });
    await stop(empty.child);

    const t0 = Date.now();
    for (let from = 0; from < n; from += 1000) {
      await store.mutate(
        { principal: "bench", sourceIp: "127.0.0.1", requestId: `seed-${from}`, action: "Seed" },
        async (tx) => {
          for (let i = from; i < Math.min(n, from + 1000); i++) {
            const lb = benchLoadBalancer(i, []);
            tx.put("loadBalancer", lb.name, { ...lb, availabilityZones: [ZONE] });
          }
        },
      );
    }
    process.stderr.write(`  ${n} load balancers stored in ${Date.now() - t0} ms\n`);
    const cp = await startControl(dir);
    started.push(cp.child);
    const apiUrl = cp.match[1] ?? "";
    const agent = await startAgent(cp.match[2] ?? "", dir, cp.match[3]);
    started.push(agent.child);
    const t1 = Date.now();
    await until(
      "the agent to serve every load balancer",
      () => Object.keys(nodeAddresses(agent)).length >= n,
      600_000,
      500,
    );
    process.stderr.write(`  the agent took them all in ${Date.now() - t1} ms\n`);
    const addresses = nodeAddresses(agent);
    const probe = new Probe(NETNS);
    // On disk is not yet serving: the first document's listeners bind after it is written.
    const t2 = Date.now();
    for (const i of [0, Math.floor(n / 2), n - 1]) {
      const deadline = Date.now() + 900_000;
      for (;;) {
        try {
          await probe.accepted(addresses[`lb-${i}`] ?? "", 80);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
        }
      }
    }
    process.stderr.write(`  and served them (port 80 accepts) ${Date.now() - t2} ms later\n`);
    await sleep(Math.max(3, Number(values.settle)) * 1000);
    const loadedKiB = rssKiB(agent.child.pid ?? 0);

    const elb = new ElasticLoadBalancingClient({
      endpoint: `http://${apiUrl.replace(/^http:\/\//, "")}`,
      region: "us-east-1",
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
      maxAttempts: 1,
    });
    const samples: number[] = [];
    appliedLines.set(agent.child, []);
    // Each process's largest event-loop delay during a trial (the gauge covers the time since the
    // previous scrape): read at the start of the pause before it, and once it is served.
    const agentMetrics = `http://${readFileSync(join(agent.dataDir, "metrics-address"), "utf8").trim()}/metrics`;
    const loopMax = async (): Promise<string> => {
      const name = "nodejs_eventloop_lag_max_seconds";
      const t0 = performance.now();
      const control = await fetch(`${apiUrl}/metrics`)
        .then(async (r) => new RegExp(`^${name} (\\S+)$`, "m").exec(await r.text())?.[1])
        .catch(() => undefined);
      const t1 = performance.now();
      const own = await probe.metric(agentMetrics, name);
      const t2 = performance.now();
      const ms = (v: number | string | undefined): string =>
        v === undefined ? "?" : (Number(v) * 1000).toFixed(1);
      return `event loop at most ${ms(control)} ms on the control plane, ${ms(own)} ms on the agent; scrapes ${(t1 - t0).toFixed(0)} and ${(t2 - t1).toFixed(0)} ms`;
    };
    const slow: string[] = [];
    for (let t = 0; t < TRIALS; t++) {
      await loopMax();
      await sleep(Number(values.pause));
      const name = `lb-${Math.floor((t * n) / TRIALS)}`;
      const port = 20_000 + t;
      const address = addresses[name] ?? "";
      await elb.send(
        new CreateLoadBalancerListenersCommand({
          LoadBalancerName: name,
          Listeners: [
            { Protocol: "HTTP", LoadBalancerPort: port, InstanceProtocol: "HTTP", InstancePort: 8080 },
          ],
        }),
      );
      const returned = performance.now();
      await probe.accepted(address, port);
      samples.push(performance.now() - returned);
      const loops = await loopMax();
      const line = `trial ${t}: ${name}:${port} ${(samples.at(-1) ?? 0).toFixed(1)} ms (${loops})`;
      if ((samples.at(-1) ?? 0) > 100) slow.push(line);
      process.stderr.write(`  ${line}\n`);
    }
    process.stderr.write(
      `  ${slow.length} of ${TRIALS} over 100 ms${slow.map((l) => `\n    ${l}`).join("")}\n`,
    );
    const docs = appliedLines.get(agent.child) ?? [];
    process.stderr.write(
      `  the agent applied ${docs.length} documents during the trials; the last: ${docs.at(-1) ?? "-"}\n`,
    );
    probe.close();
    elb.destroy();
    await stop(agent.child);
    await stop(cp.child);
    rmSync(agent.dataDir, { recursive: true, force: true });
    samples.sort((a, b) => a - b);
    const perLb = (loadedKiB - baseKiB) / n;
    console.log(
      `| ${n} | ${percentile(samples, 50).toFixed(1)} | ${percentile(samples, 99).toFixed(1)} | ${(samples.at(-1) ?? 0).toFixed(1)} | ${baseKiB} | ${loadedKiB} | ${perLb.toFixed(1)} |`,
    );
  } finally {
    // Whatever failed, nothing of this size outlives it (an agent's keeper stops its worker).
    for (const child of started.reverse()) await stop(child);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.netns && NETNS === undefined) {
  await runInNamespaces();
  process.exit(0);
}
console.log(
  `propagation (${NETNS === undefined ? "one host, loopback" : "control plane and agent in network namespaces joined by a veth pair"}; ballast ${MAIN}): ${TRIALS} CreateLoadBalancerListeners calls per size, from the call's return to the first accepted connection on the node's new port; agent memory: RSS with N idle load balancers (each with a node on the agent) against RSS with none\n`,
);
console.log(
  "| load balancers | p50 ms | p99 ms | worst ms | agent RSS, none (KiB) | agent RSS, N (KiB) | KiB per load balancer |",
);
console.log("|---|---|---|---|---|---|---|");
for (const n of SIZES) await runSize(n);
