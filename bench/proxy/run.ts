/**
 * Proxy benchmark: wrk on loopback against the Ballast agent's data plane and its peers, run side
 * by side and interleaved, so that ratios inside one run are fair on a shared machine.
 *
 *   bash bench/proxy/run.sh [--rounds 5] [--duration 5] [--connections 10,50] [--targets a,b,…]
 *                           [--base-port 18080] [--prof DIR] [--alt-dist DIR] [--alt-node-flags="…"]
 *                           [--pace MS] [--json FILE]
 *
 * `run.sh` installs the system tools (wrk, haproxy, nginx) and the Node peers into
 * `.tmp/bench-peers` (outside package.json), builds, then runs this file. Every server it starts
 * is stopped on exit, error, SIGINT and SIGTERM. Prints medians of requests/s, p50/p99 latency and
 * the proxy's CPU time per request (utime+stime of the proxy's process tree from /proc, before and
 * after each run), and ratios against HAProxy computed round by round. Nothing here asserts.
 *
 * `--pace MS` makes each wrk connection wait MS milliseconds after every response before it sends
 * the next request (wrk's Lua `delay()`): every target then gets about the same offered load,
 * below what saturates the proxy, and the latency columns compare proxies at equal load rather
 * than at each one's own saturation.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const execFileP = promisify(execFile);

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "10,50" },
    targets: { type: "string", default: "direct,ballast,ballast-2w,haproxy,nginx,http-proxy,fastify" },
    "base-port": { type: "string", default: "18080" },
    prof: { type: "string" },
    "alt-dist": { type: "string" },
    /** Node flags for the alt target only (e.g. "--max-semi-space-size=64"), to A/B a runtime setting. */
    "alt-node-flags": { type: "string" },
    json: { type: "string" },
    pace: { type: "string" },
  },
});

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../../..");
const WORK = join(REPO, ".tmp/bench-proxy");
const PEERS = join(REPO, ".tmp/bench-peers");
const ROUNDS = Number(values.rounds);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const CONNECTIONS = values.connections.split(",").map(Number);
const BASE = Number(values["base-port"]);
const BACKEND_PORT = BASE + 1;
const BACKENDS = ["127.0.0.2", "127.0.0.3"];
const CLK_TCK = 100;
const PACE_MS = values.pace === undefined ? 0 : Number(values.pace);
if (!(PACE_MS >= 0)) throw new Error(`--pace must be a number of milliseconds, not ${values.pace}`);

interface Target {
  readonly name: string;
  readonly label: string;
  readonly url: string;
  /** Starts the server; resolves with the root process whose tree is charged CPU, or null. */
  readonly start: (() => Promise<ChildProcess>) | null;
}

interface Sample {
  readonly target: string;
  readonly connections: number;
  readonly round: number;
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly userUs: number | null;
  readonly sysUs: number | null;
  readonly cores: number | null;
}

// ---------------------------------------------------------------- processes and cleanup

const children: ChildProcess[] = [];
let stopping = false;

function pidsFile(): void {
  writeFileSync(join(WORK, "pids"), children.map((c) => c.pid ?? "").join("\n"));
}

function stopAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
}

async function stopAllAndWait(): Promise<void> {
  stopping = true;
  stopAll();
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && children.some((c) => c.exitCode === null && c.signalCode === null)) {
    await sleep(50);
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(join(WORK, "pids"), { force: true });
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping every server\n`);
    void stopAllAndWait().finally(() => process.exit(130));
  });
}
process.on("exit", stopAll);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function launch(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const err = join(WORK, `${name}.stderr`);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  children.push(child);
  pidsFile();
  let errText = "";
  child.stderr?.on("data", (d: Buffer) => {
    errText += d.toString();
    writeFileSync(err, errText);
  });
  child.on("exit", (code, signal) => {
    if (!stopping) process.stderr.write(`${name} exited early (${code ?? signal}); see ${err}\n`);
  });
  return child;
}

/** Fails when something already answers at `url`: a leftover server would be measured instead. */
async function assertFree(name: string, url: string): Promise<void> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await r.arrayBuffer();
  } catch {
    return;
  }
  throw new Error(`${name}: something already answers at ${url} (a server left from an earlier run?)`);
}

/** Waits until GET `url` answers 200 (or the child dies). */
async function waitReady(name: string, child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} did not start`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready at ${url}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------- CPU accounting

interface Cpu {
  utime: number;
  stime: number;
}

function readStat(pid: number): { ppid: number; utime: number; stime: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ": state(3) ppid(4) … utime(14) stime(15), 1-based over the whole line.
    return { ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]) };
  } catch {
    return null;
  }
}

/** utime+stime (ticks) of `root` and every live descendant. */
function treeCpu(root: number): Cpu {
  const stats = new Map<number, { ppid: number; utime: number; stime: number }>();
  for (const e of readdirSync("/proc")) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (st !== null) stats.set(pid, st);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      const st = stats.get(p);
      if (st === undefined) return false;
      p = st.ppid;
    }
    return false;
  };
  const out: Cpu = { utime: 0, stime: 0 };
  for (const [pid, st] of stats) {
    if (!inTree(pid)) continue;
    out.utime += st.utime;
    out.stime += st.stime;
  }
  return out;
}

// ---------------------------------------------------------------- configs

const BODY = "x".repeat(99); // + "\n" = 100 bytes

function backendConf(addr: string, i: number): string {
  return `worker_processes 1;
user root;
pid ${WORK}/backend-${i}.pid;
error_log ${WORK}/backend-${i}.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path ${WORK}/tmp-b${i}/body;
  proxy_temp_path ${WORK}/tmp-b${i}/proxy;
  fastcgi_temp_path ${WORK}/tmp-b${i}/fastcgi;
  uwsgi_temp_path ${WORK}/tmp-b${i}/uwsgi;
  scgi_temp_path ${WORK}/tmp-b${i}/scgi;
  server {
    listen ${addr}:${BACKEND_PORT};
    location / { default_type text/plain; return 200 "${BODY}\\n"; }
  }
}
`;
}

function nginxProxyConf(port: number): string {
  return `worker_processes 1;
user root;
pid ${WORK}/nginx-proxy.pid;
error_log ${WORK}/nginx-proxy.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path ${WORK}/tmp-p/body;
  proxy_temp_path ${WORK}/tmp-p/proxy;
  fastcgi_temp_path ${WORK}/tmp-p/fastcgi;
  uwsgi_temp_path ${WORK}/tmp-p/uwsgi;
  scgi_temp_path ${WORK}/tmp-p/scgi;
  upstream backends {
    server ${BACKENDS[0]}:${BACKEND_PORT};
    server ${BACKENDS[1]}:${BACKEND_PORT};
    keepalive 256;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto http;
      proxy_set_header X-Forwarded-Port ${port};
    }
  }
}
`;
}

function haproxyConf(port: number): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Port ${port}
  default_backend be
backend be
  balance roundrobin
  server b1 ${BACKENDS[0]}:${BACKEND_PORT} check inter 5s
  server b2 ${BACKENDS[1]}:${BACKEND_PORT} check inter 5s
`;
}

function nginxServer(name: string, conf: string, tmpDir: string, url: string): () => Promise<ChildProcess> {
  return async () => {
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"])
      mkdirSync(join(tmpDir, d), { recursive: true });
    const file = join(WORK, `${name}.conf`);
    writeFileSync(file, conf);
    await assertFree(name, url);
    const child = launch(name, "nginx", ["-c", file, "-e", join(WORK, `${name}.log`), "-g", "daemon off;"]);
    await waitReady(name, child, url);
    return child;
  };
}

function nodeServer(name: string, args: string[], url: string): () => Promise<ChildProcess> {
  return async () => {
    await assertFree(name, url);
    const child = launch(name, process.execPath, args, { ...process.env, NODE_ENV: "production" });
    await waitReady(name, child, url);
    return child;
  };
}

function targets(): Target[] {
  const backendList = BACKENDS.join(",");
  const url = (port: number): string => `http://127.0.0.1:${port}/`;
  const prof = values.prof === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", resolve(values.prof)];
  const ballastArgs = (
    port: number,
    workers: number,
    dist = join(REPO, "dist"),
    flags: string[] = [],
  ): string[] => [
    ...flags,
    ...prof,
    join(dist, "bench/proxy/ballast-target.js"),
    "--listen",
    `127.0.0.1:${port}`,
    "--backends",
    backendList,
    "--backend-port",
    String(BACKEND_PORT),
    "--workers",
    String(workers),
  ];
  const peer = (file: string, port: number): string[] => [
    join(REPO, "bench/proxy/peers", file),
    PEERS,
    `127.0.0.1:${port}`,
    backendList,
    String(BACKEND_PORT),
  ];
  const all: Target[] = [
    {
      name: "direct",
      label: "direct to one back end",
      url: `http://${BACKENDS[0]}:${BACKEND_PORT}/`,
      start: null,
    },
    {
      name: "ballast",
      label: "Ballast agent (1 process)",
      url: url(BASE),
      start: nodeServer("ballast", ballastArgs(BASE, 1), url(BASE)),
    },
    {
      name: "ballast-2w",
      label: "Ballast agent (2 processes)",
      url: url(BASE + 6),
      start: nodeServer("ballast-2w", ballastArgs(BASE + 6, 2), url(BASE + 6)),
    },
    {
      name: "haproxy",
      label: "HAProxy, nbthread 1",
      url: url(BASE + 2),
      start: async () => {
        const file = join(WORK, "haproxy.cfg");
        writeFileSync(file, haproxyConf(BASE + 2));
        await assertFree("haproxy", url(BASE + 2));
        const child = launch("haproxy", "haproxy", ["-f", file, "-db"]);
        await waitReady("haproxy", child, url(BASE + 2));
        return child;
      },
    },
    {
      name: "nginx",
      label: "nginx, 1 worker",
      url: url(BASE + 3),
      start: nginxServer("nginx-proxy", nginxProxyConf(BASE + 3), join(WORK, "tmp-p"), url(BASE + 3)),
    },
    {
      name: "http-proxy",
      label: "`http-proxy` + keep-alive Agent",
      url: url(BASE + 4),
      start: nodeServer("http-proxy", peer("http-proxy.mjs", BASE + 4), url(BASE + 4)),
    },
    {
      name: "fastify",
      label: "`@fastify/http-proxy`",
      url: url(BASE + 5),
      start: nodeServer("fastify", peer("fastify-http-proxy.mjs", BASE + 5), url(BASE + 5)),
    },
  ];
  const alt = values["alt-dist"];
  if (alt !== undefined) {
    // A/B against another build of the same tree (e.g. a copy of dist/ before a change).
    const flags = (values["alt-node-flags"] ?? "").split(" ").filter((f) => f !== "");
    all.push({
      name: "ballast-alt",
      label: `Ballast agent (1 process, ${alt}${flags.length > 0 ? ` ${flags.join(" ")}` : ""})`,
      url: url(BASE + 7),
      start: nodeServer("ballast-alt", ballastArgs(BASE + 7, 1, resolve(alt), flags), url(BASE + 7)),
    });
  }
  const wanted = [...values.targets.split(","), ...(alt === undefined ? [] : ["ballast-alt"])];
  for (const w of wanted) if (!all.some((t) => t.name === w)) throw new Error(`unknown target ${w}`);
  return all.filter((t) => wanted.includes(t.name) || t.name === "haproxy");
}

// ---------------------------------------------------------------- wrk

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const v = Number(m[1]);
  const unit = m[2];
  return unit === "us" ? v / 1000 : unit === "ms" ? v : unit === "s" ? v * 1000 : v * 60_000;
}

interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  errors: number;
}

let paceFile: string | null = null;

/** The wrk script that paces each connection (`--pace`), written into WORK on first use. */
function paceScript(): string {
  if (paceFile === null) {
    paceFile = join(WORK, "pace.lua");
    writeFileSync(
      paceFile,
      `-- each connection waits ${PACE_MS} ms after a response\nfunction delay()\n  return ${PACE_MS}\nend\n`,
    );
  }
  return paceFile;
}

async function wrk(url: string, connections: number, seconds: number, paced = false): Promise<WrkResult> {
  const pace = paced && PACE_MS > 0 ? ["-s", paceScript()] : [];
  const { stdout } = await execFileP(
    "wrk",
    ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", ...pace, url],
    {
      timeout: (seconds + 30) * 1000,
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const p50ms = parseDuration(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? "");
  const p99ms = parseDuration(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? "");
  let errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  if (sock !== null) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  if (!Number.isFinite(rps) || !Number.isFinite(p99ms)) throw new Error(`unparsable wrk output:\n${stdout}`);
  return { rps, p50ms, p99ms, requests, errors };
}

// ---------------------------------------------------------------- statistics and output

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en") : "–");
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "–");

/** Per-round ratio target/haproxy of `pick`, then the median over rounds. */
function ratio(
  samples: readonly Sample[],
  target: string,
  c: number,
  pick: (s: Sample) => number | null,
): number {
  const rs: number[] = [];
  for (const s of samples) {
    if (s.target !== target || s.connections !== c) continue;
    const h = samples.find((x) => x.target === "haproxy" && x.connections === c && x.round === s.round);
    const a = pick(s);
    const b = h === undefined ? null : pick(h);
    if (a !== null && b !== null && b > 0) rs.push(a / b);
  }
  return median(rs);
}

function report(all: readonly Target[], samples: readonly Sample[]): string {
  const lines: string[] = [];
  for (const c of CONNECTIONS) {
    lines.push(
      "",
      `wrk -t1 -c${c} -d${DURATION}s${PACE_MS > 0 ? `, paced ${PACE_MS} ms after each response` : ""}, ${ROUNDS} interleaved rounds, medians (ratios: median of per-round ratios to HAProxy)`,
      "",
      "| target | req/s | vs HAProxy | p50 ms | p99 ms | p99 vs HAProxy | CPU µs/req (user+sys) | vs HAProxy | cores busy | errors |",
      "|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const t of all) {
      const ss = samples.filter((s) => s.target === t.name && s.connections === c);
      if (ss.length === 0) continue;
      const cpu = ss.map((s) => (s.userUs === null || s.sysUs === null ? Number.NaN : s.userUs + s.sysUs));
      const user = median(ss.map((s) => s.userUs ?? Number.NaN));
      const sys = median(ss.map((s) => s.sysUs ?? Number.NaN));
      const cpuText = Number.isFinite(median(cpu))
        ? `${fmt(median(cpu), 1)} (${fmt(user, 0)}+${fmt(sys, 0)})`
        : "–";
      const cpuOf = (s: Sample): number | null =>
        s.userUs === null || s.sysUs === null ? null : s.userUs + s.sysUs;
      lines.push(
        `| ${t.label} | ${fmtInt(median(ss.map((s) => s.rps)))} | ${fmt(ratio(samples, t.name, c, (s) => s.rps))} | ${fmt(
          median(ss.map((s) => s.p50ms)),
        )} | ${fmt(median(ss.map((s) => s.p99ms)))} | ${fmt(ratio(samples, t.name, c, (s) => s.p99ms))} | ${cpuText} | ${fmt(
          ratio(samples, t.name, c, cpuOf),
        )} | ${fmt(median(ss.map((s) => s.cores ?? Number.NaN)))} | ${ss.reduce((a, s) => a + s.errors, 0)} |`,
      );
    }
    const b = (name: string): boolean => samples.some((s) => s.target === name && s.connections === c);
    if (b("ballast") && b("haproxy") && PACE_MS > 0) {
      // Paced runs offer every target the same load: only the latency comparison means anything.
      const p50R = ratio(samples, "ballast", c, (s) => s.p50ms);
      const p99R = ratio(samples, "ballast", c, (s) => s.p99ms);
      lines.push("", `at equal offered load, c=${c}: Ballast p50 ${fmt(p50R)}×, p99 ${fmt(p99R)}× HAProxy's`);
    } else if (b("ballast") && b("haproxy")) {
      const cpuR = ratio(samples, "ballast", c, (s) =>
        s.userUs === null ? null : s.userUs + (s.sysUs ?? 0),
      );
      const p99R = ratio(samples, "ballast", c, (s) => s.p99ms);
      lines.push("", `goals at c=${c} (single Ballast process):`);
      lines.push(`  CPU/request ≤ 2× HAProxy:        ${fmt(cpuR)}× → ${cpuR <= 2 ? "met" : "missed"}`);
      if (b("http-proxy")) {
        const rs: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const a = samples.find((s) => s.target === "ballast" && s.connections === c && s.round === r);
          const h = samples.find((s) => s.target === "http-proxy" && s.connections === c && s.round === r);
          if (a !== undefined && h !== undefined) rs.push(a.rps / h.rps);
        }
        const tr = median(rs);
        lines.push(`  throughput ≥ 2× http-proxy:      ${fmt(tr)}× → ${tr >= 2 ? "met" : "missed"}`);
      }
      lines.push(`  p99 no worse than HAProxy's:     ${fmt(p99R)}× → ${p99R <= 1 ? "met" : "missed"}`);
    }
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const all = targets();
  const load0 = loadavg();
  const { stdout: versions } = await execFileP("sh", [
    "-c",
    "haproxy -v | head -1; nginx -v 2>&1; wrk -v 2>&1 | head -1; nproc; grep -m1 'model name' /proc/cpuinfo",
  ]);
  process.stdout.write(`node ${process.version}\n${versions}`);
  process.stdout.write(`load average at start: ${load0.map((x) => x.toFixed(2)).join(" ")}\n`);

  process.stderr.write("starting back ends…\n");
  for (const [i, addr] of BACKENDS.entries()) {
    await nginxServer(
      `backend-${i}`,
      backendConf(addr, i),
      join(WORK, `tmp-b${i}`),
      `http://${addr}:${BACKEND_PORT}/`,
    )();
  }
  const body = await (await fetch(`http://${BACKENDS[0]}:${BACKEND_PORT}/`)).arrayBuffer();
  if (body.byteLength !== 100) throw new Error(`back end body is ${body.byteLength} bytes`);

  const roots = new Map<string, number>();
  for (const t of all) {
    if (t.start === null) continue;
    process.stderr.write(`starting ${t.name}…\n`);
    const child = await t.start();
    if (child.pid === undefined) throw new Error(`${t.name} has no pid`);
    roots.set(t.name, child.pid);
  }

  process.stderr.write(`warm-up: ${WARMUP}s per target\n`);
  for (const t of all) if (WARMUP > 0) await wrk(t.url, Math.max(...CONNECTIONS), WARMUP);

  const samples: Sample[] = [];
  const total = ROUNDS * CONNECTIONS.length * all.length;
  let done = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONNECTIONS) {
      // Rotate the order every round so no target always follows the same neighbour.
      const order = all.map((_, i) => all[(i + round) % all.length] as Target);
      for (const t of order) {
        const root = roots.get(t.name);
        const before = root === undefined ? null : treeCpu(root);
        const t0 = process.hrtime.bigint();
        const r = await wrk(t.url, c, DURATION, true);
        const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
        const after = root === undefined ? null : treeCpu(root);
        const perReq = (ticks: number): number => ((ticks / CLK_TCK) * 1e6) / r.requests;
        samples.push({
          target: t.name,
          connections: c,
          round,
          ...r,
          userUs: before === null || after === null ? null : perReq(after.utime - before.utime),
          sysUs: before === null || after === null ? null : perReq(after.stime - before.stime),
          cores:
            before === null || after === null
              ? null
              : (after.utime - before.utime + after.stime - before.stime) / CLK_TCK / wallS,
        });
        done++;
        process.stderr.write(
          `  [${done}/${total}] round ${round + 1} c=${c} ${t.name}: ${fmtInt(r.rps)} req/s p99 ${fmt(r.p99ms)} ms\n`,
        );
        await sleep(300);
      }
    }
  }
  const load1 = loadavg();
  await stopAllAndWait();

  process.stdout.write(report(all, samples));
  process.stdout.write(`\n\nload average at end: ${load1.map((x) => x.toFixed(2)).join(" ")}\n`);
  if (values.json !== undefined)
    writeFileSync(values.json, JSON.stringify({ load0, load1, samples }, null, 2));
}

main().catch(async (err: unknown) => {
  process.stderr.write(
    `bench:proxy failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  await stopAllAndWait();
  process.exit(1);
});
