/**
 * API benchmark: the AWS Query API with real SigV4, served by `ballast control` in its own process.
 *
 *   node dist/bench/api.js [--driver sqlite|postgres|both] [--lbs 100] [--concurrency 32]
 *                          [--describe 20000] [--mutations 5000] [--replicas 1] [--server-prof DIR]
 *                          [--server-main OTHER_BUILD/dist/src/cli/main.js]
 *
 * `--server-main` drives another build's control plane with this same load generator (a reference
 * run). Every run ends with `state verify` of the journal it wrote.
 *
 * With `--replicas N` the PostgreSQL run starts N `ballast control` replicas on the one database and
 * spreads the in-flight workers over them (worker w talks to replica w mod N); SQLite always runs
 * one control plane. Server CPU is the sum over the replicas.
 *
 * The store is preloaded directly (N load balancers with 10 IP-address instances each), then the
 * control plane is spawned on it and driven over HTTP/1.1 keep-alive by undici with `concurrency`
 * requests in flight. Every request is signed BEFORE its phase starts (SigV4 over node:crypto),
 * so signing is not in the measured time; the client's and the server's CPU time are both
 * reported. Phases:
 *   - DescribeLoadBalancers of one named load balancer;
 *   - RegisterInstancesWithLoadBalancer / DeregisterInstancesFromLoadBalancer alternating: each
 *     in-flight worker owns one load balancer and registers then deregisters one IP address on it,
 *     so every call appends exactly one journal revision.
 * Nothing here asserts a time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignatureV4 } from "@smithy/signature-v4";
import { Pool } from "undici";
import type { LoadBalancer } from "../src/model/types.js";
import { openStore } from "../src/store/open.js";
import { verifyJournal } from "../src/store/ops/verify.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { Store } from "../src/store/store.js";
import { type PostgresServer, startPostgres } from "../test/support/postgres.js";
import { benchLoadBalancer } from "./fixtures.js";

const { values } = parseArgs({
  options: {
    driver: { type: "string", default: "both" },
    lbs: { type: "string", default: "100" },
    concurrency: { type: "string", default: "32" },
    describe: { type: "string", default: "20000" },
    mutations: { type: "string", default: "5000" },
    /** Control-plane replicas on PostgreSQL (SQLite: always one). */
    replicas: { type: "string", default: "1" },
    /** Write a CPU profile of the server process into this directory. */
    "server-prof": { type: "string" },
    /**
     * The control plane to drive: another build's `dist/src/cli/main.js` (a reference run with
     * this same load generator). Default: this build's.
     */
    "server-main": { type: "string" },
  },
});
const LBS = Number(values.lbs);
const CONCURRENCY = Number(values.concurrency);
const DESCRIBES = Number(values.describe);
const MUTATIONS = Number(values.mutations);
const REPLICAS = Number(values.replicas);
const drivers = values.driver === "both" ? ["sqlite", "postgres"] : [values.driver];
if (LBS < CONCURRENCY)
  throw new Error("--lbs must be at least --concurrency: each worker owns a load balancer");

const ACCESS_KEY_ID = "AKIABENCHMARK0000001";
const SECRET = "benchmark/secret/access/key/0000000000001";
const REGION = "us-east-1";

/** SHA-256 and HMAC-SHA-256 over node:crypto for the smithy signer (its default is pure JS). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): Buffer | string =>
  typeof d === "string"
    ? d
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);
class NodeSha256 {
  readonly #secret: SourceData | undefined;
  #h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#h = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.#secret));
  }
  update(data: SourceData): void {
    this.#h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {
    this.#h = this.#fresh();
  }
}

const signer = new SignatureV4({
  credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
  region: REGION,
  service: "elasticloadbalancing",
  sha256: NodeSha256,
});

interface Signed {
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function sign(host: string, params: Record<string, string>): Promise<Signed> {
  const body = new URLSearchParams({ Version: "2012-06-01", ...params }).toString();
  const [hostname, port] = host.split(":");
  const req = await signer.sign({
    method: "POST",
    protocol: "http:",
    hostname: hostname ?? "127.0.0.1",
    port: Number(port),
    path: "/",
    query: {},
    headers: { host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });
  return { headers: req.headers, body };
}

function loadBalancer(i: number): LoadBalancer {
  const instances: string[] = [];
  for (let k = 0; k < 10; k++) instances.push(`10.${(i >> 8) & 255}.${i & 255}.${k + 1}`);
  return benchLoadBalancer(i, instances);
}

async function preload(store: Store): Promise<void> {
  await store.mutate(
    { principal: "bench", sourceIp: "127.0.0.1", requestId: "bench-preload", action: "Preload" },
    async (tx) => {
      for (let i = 0; i < LBS; i++) tx.put("loadBalancer", `lb-${i}`, loadBalancer(i));
    },
  );
  await store.close();
}

interface Server {
  readonly child: ChildProcess;
  readonly host: string;
  stop(): Promise<void>;
}

async function startServer(dataDir: string, storeSpec: string): Promise<Server> {
  const main = values["server-main"] ?? new URL("../src/cli/main.js", import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    [
      ...(values["server-prof"] ? ["--cpu-prof", "--cpu-prof-dir", values["server-prof"]] : []),
      main,
      "control",
      "--data-dir",
      dataDir,
      "--store",
      storeSpec,
      "--api-port",
      "0",
      "--agent-port",
      "0",
      "--dns-port",
      "0",
      // Every worker deregisters an instance every other call: far past the two-person rule's
      // bulk threshold (10 a minute), which is not what this measures.
      "--bulk-threshold",
      "1000000000",
    ],
    {
      env: {
        ...process.env,
        BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
        BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET,
        BALLAST_LOG_LEVEL: "error",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const host = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /API http:\/\/([^,\s]+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) =>
      reject(new Error(`control plane exited (${code}) before listening: ${out}`)),
    );
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    host,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** CPU seconds over `calls`, as milliseconds per call. */
function perCallMs(cpuSeconds: number, calls: number): string {
  return calls === 0 ? "-" : ((cpuSeconds * 1000) / calls).toFixed(3);
}

/** utime + stime of a process in ms, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU of every PostgreSQL process on the host (the benchmark's server), by pid. */
function postgresCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.includes("(postgres)")) out.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // gone in between
    }
  }
  return out;
}

/** What PostgreSQL's processes spent between two readings (a backend gone meanwhile is not counted). */
function postgresCpuSince(before: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of postgresCpuMs()) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

interface PhaseResult {
  readonly phase: string;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
}

/** Runs `work[w]` (pre-signed requests) on worker w, in order, all workers at once. */
async function runPhase(
  phase: string,
  servers: readonly Server[],
  pools: readonly Pool[],
  work: readonly Signed[][],
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  const serversCpuMs = (): number => servers.reduce((sum, s) => sum + processCpuMs(s.child.pid ?? 0), 0);
  const serverBefore = serversCpuMs();
  const commitsBefore = await commitCounts(servers);
  const databaseBefore = postgresCpuMs();
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    work.map(async (list, w) => {
      const pool = pools[w % pools.length] as Pool;
      for (const req of list) {
        const t0 = performance.now();
        const res = await pool.request({ path: "/", method: "POST", headers: req.headers, body: req.body });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        if (res.statusCode !== 200) {
          errors++;
          firstError ||= text.slice(0, 300);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverCpu = (serversCpuMs() - serverBefore) / 1000;
  if (firstError) console.error(`  ${phase}: first error: ${firstError}`);
  const databaseMs = postgresCpuSince(databaseBefore);
  const commitsAfter = await commitCounts(servers);
  const transactions = commitsAfter.transactions - commitsBefore.transactions;
  const revisions = commitsAfter.revisions - commitsBefore.revisions;
  if (transactions > 0)
    console.log(
      `  ${phase}: ${revisions} revisions in ${transactions} transactions (${(revisions / transactions).toFixed(1)} a transaction), PostgreSQL CPU ${(databaseMs / 1000).toFixed(2)} s = ${(databaseMs / latencies.length).toFixed(3)} ms/call`,
    );
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const requests = latencies.length;
  const r: PhaseResult = {
    phase,
    requests,
    errors,
    seconds,
    perSecond: requests / seconds,
    p50: q(0.5),
    p99: q(0.99),
    serverCpu,
    clientCpu: (client.user + client.system) / 1e6,
  };
  console.log(
    `  ${phase}: ${r.perSecond.toFixed(0)}/s (${requests} in ${seconds.toFixed(2)} s, ${errors} errors, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, server CPU ${serverCpu.toFixed(2)} s = ${perCallMs(serverCpu, requests)} ms/call, client CPU ${r.clientCpu.toFixed(2)} s = ${perCallMs(r.clientCpu, requests)} ms/call, load average ${loadavg()[0]?.toFixed(2)})`,
  );
  return r;
}

/** The replicas' group-commit counters (PostgreSQL; zero on SQLite), summed. */
async function commitCounts(
  servers: readonly Server[],
): Promise<{ transactions: number; revisions: number }> {
  let transactions = 0;
  let revisions = 0;
  for (const s of servers) {
    const text = await (await fetch(`http://${s.host}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    transactions += value("ballast_store_commit_transactions_total");
    revisions += value("ballast_store_committed_revisions_total");
  }
  return { transactions, revisions };
}

async function signAll(
  label: string,
  n: number,
  make: (w: number, i: number) => Promise<Signed>,
): Promise<Signed[][]> {
  const t0 = performance.now();
  const work: Signed[][] = Array.from({ length: CONCURRENCY }, () => []);
  const per = Math.ceil(n / CONCURRENCY);
  for (let w = 0; w < CONCURRENCY; w++) for (let i = 0; i < per; i++) work[w]?.push(await make(w, i));
  console.log(
    `  signed ${per * CONCURRENCY} ${label} requests in ${((performance.now() - t0) / 1000).toFixed(2)} s (not measured)`,
  );
  return work;
}

async function benchDriver(
  driver: string,
  storeSpec: string,
  open: () => Promise<Store>,
  replicas = 1,
): Promise<PhaseResult[]> {
  console.log(
    `\n${driver}: ${LBS} load balancers, ${CONCURRENCY} requests in flight, ${replicas} control plane(s)`,
  );
  await preload(await open());
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-bench-api-"));
  // One after the other: the first creates the data directory's secret key, the others read it.
  const servers: Server[] = [];
  for (let r = 0; r < replicas; r++) servers.push(await startServer(dataDir, storeSpec));
  const pools = servers.map(
    (s) => new Pool(`http://${s.host}`, { connections: Math.ceil(CONCURRENCY / replicas), pipelining: 1 }),
  );
  const hostOf = (w: number): string => (servers[w % servers.length] as Server).host;
  try {
    const out: PhaseResult[] = [];
    // Every phase is signed first: a pause between phases longer than the server's keep-alive
    // timeout would let it close sockets the client is about to reuse.
    const warm = await signAll("warm-up", CONCURRENCY * 50, (w) =>
      sign(hostOf(w), { Action: "DescribeLoadBalancers", "LoadBalancerNames.member.1": `lb-${w}` }),
    );
    const describe = await signAll("DescribeLoadBalancers", DESCRIBES, (w, i) =>
      sign(hostOf(w), {
        Action: "DescribeLoadBalancers",
        "LoadBalancerNames.member.1": `lb-${(w + i * CONCURRENCY) % LBS}`,
      }),
    );
    const mutations = await signAll("Register/Deregister", MUTATIONS, (w, i) => {
      const ip = `10.250.${w}.${(Math.floor(i / 2) % 250) + 1}`;
      return sign(hostOf(w), {
        Action: i % 2 === 0 ? "RegisterInstancesWithLoadBalancer" : "DeregisterInstancesFromLoadBalancer",
        LoadBalancerName: `lb-${w}`,
        "Instances.member.1.InstanceId": ip,
      });
    });
    // Warm-up: JIT on both sides, connections open.
    await runPhase("warm-up", servers, pools, warm);
    out.push(await runPhase("DescribeLoadBalancers (one by name)", servers, pools, describe));
    out.push(await runPhase("Register/DeregisterInstances alternating", servers, pools, mutations));
    return out;
  } finally {
    for (const pool of pools) await pool.close();
    for (const server of servers) await server.stop();
    // With the control plane's own data directory: its key sealed the credentials it stored.
    try {
      await verifyAfter(await openStore(storeSpec, dataDir));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

/** `ballast state verify` of what the run wrote: every revision in the chain, the state its replay. */
async function verifyAfter(store: Store): Promise<void> {
  try {
    const report = await verifyJournal(store, { maxDivergences: 5 });
    console.log(
      `  state verify after the run: ${report.ok ? "ok" : "FAILED"} (${report.revisionsChecked} revisions, ${report.entitiesChecked} entities, head ${report.head})`,
    );
    if (!report.ok) {
      console.error(JSON.stringify(report.divergences));
      process.exitCode = 1;
    }
  } finally {
    await store.close();
  }
}

const results: { driver: string; rows: PhaseResult[] }[] = [];
let pg: PostgresServer | undefined;
try {
  for (const driver of drivers) {
    if (driver === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "ballast-bench-db-"));
      const file = join(dir, "ballast.db");
      try {
        results.push({
          driver,
          rows: await benchDriver(driver, `sqlite:${file}`, async () => new SqliteStore(file)),
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } else if (driver === "postgres") {
      pg ??= await startPostgres();
      const url = pg.url;
      results.push({
        driver: REPLICAS > 1 ? `postgres ×${REPLICAS}` : driver,
        rows: await benchDriver(driver, url, () => PostgresStore.open(url), REPLICAS),
      });
    } else {
      throw new Error(`unknown driver ${driver}: use sqlite, postgres or both`);
    }
  }
} finally {
  await pg?.stop();
}

console.log(
  `\nAPI benchmark: ${LBS} load balancers, ${CONCURRENCY} in flight, pre-signed SigV4, server in its own process, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}\n`,
);
console.log(
  "| driver | call | calls/s | requests | errors | p50 ms | p99 ms | server CPU s | server CPU ms/call | client CPU ms/call |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const { driver, rows } of results) {
  for (const r of rows) {
    console.log(
      `| ${driver} | ${r.phase} | ${r.perSecond.toFixed(0)} | ${r.requests} | ${r.errors} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.serverCpu.toFixed(2)} of ${r.seconds.toFixed(2)} | ${perCallMs(r.serverCpu, r.requests)} | ${perCallMs(r.clientCpu, r.requests)} |`,
    );
  }
}
