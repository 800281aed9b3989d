/**
 * An agent's keeper replaced under traffic (`ballast agent --upgrade`): the old keeper hands its
 * listening sockets and its DNS responder's UDP and TCP sockets to a new keeper, whose worker
 * serves before the old worker drains. Steady HTTP traffic sees no refused and no reset
 * connection; a loop of DNS queries over UDP (one datagram each, no retry) sees every query
 * answered, during a worker reload and during the keeper's replacement; the pid file names the
 * new keeper, a different process, and the old one is gone. An upgrade to a release that does not
 * start is refused with one line, and the running keeper serves on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { closeServer, type EchoBackend, echoBackend, fetchRaw, freePort } from "../proxy/helpers.js";
import {
  type AgentDir,
  agentDir,
  alive,
  clientLoop,
  collectLog,
  randomPool,
  workerPid,
} from "./agent-handover.js";
import { type DnsTally, dnsLoop } from "./dns-loop.js";
import { MAIN_JS, waitFor } from "./support.js";

const CONCURRENCY = 8;
const DNS_NAME = "web-1.us-east-1.elb.ballast.internal";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);

/** The path the agent is started through, a symlink to the release (like an installed one). */
const release = (dir: string) => join(dir, "ballast-main.js");

function keeperPid(dir: string): number | undefined {
  const n = Number(readFileSync(join(dir, "agent.pid"), "utf8").trim());
  return n > 0 ? n : undefined;
}

function assertAllAnswered(dns: DnsTally, what: string): void {
  assert.equal(dns.unanswered, 0, `no DNS query unanswered ${what}`);
  assert.equal(dns.wrong, 0, `every DNS answer names the node ${what}`);
  assert.ok(dns.answered > 20, `DNS queries were answered throughout ${what} (${dns.answered})`);
}

describe("e2e: an agent's keeper replaced under traffic closes no socket", () => {
  const { pool, node } = randomPool();
  const NODE = node(1);
  const DNS_HOST = node(253);
  let dnsPort = 0;
  let b: EchoBackend;
  let port = 0;
  let agent: AgentDir;
  let proc: ChildProcess;
  let log: () => string;

  before(async () => {
    b = await echoBackend("b0", "127.0.0.1");
    port = await freePort(NODE);
    dnsPort = await freePort(DNS_HOST);
    agent = await agentDir(
      "agent-upgrade",
      pool,
      b.port,
      [{ name: "web", address: NODE, port, dnsName: DNS_NAME }],
      ["--drain-timeout", "5", "--dns", `${DNS_HOST}:${dnsPort}`],
    );
    // Started through a symlink, as an installed release is: an upgrade follows it anew.
    symlinkSync(MAIN_JS, release(agent.dir));
    proc = spawn(process.execPath, [release(agent.dir), ...agent.args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, BALLAST_LOG_LEVEL: "info" },
    });
    log = collectLog(proc);
    await waitFor(async () => (await fetchRaw(NODE, port, "/")).status === 200, {
      what: "the agent to serve its last-known-good configuration",
    });
    await waitFor(
      async () => {
        const probe = dnsLoop({ host: DNS_HOST, port: dnsPort }, DNS_NAME, NODE, {
          maxQueries: 1,
          timeoutMs: 500,
        });
        return (await probe.stop()).answered === 1;
      },
      { what: "the agent's DNS responder to answer" },
    );
  });

  after(async () => {
    // The keeper now running may be the successor, which is no child of this process.
    const pids = [keeperPid(agent.dir), proc.pid].filter((p): p is number => p !== undefined && alive(p));
    for (const pid of pids) process.kill(pid, "SIGTERM");
    await waitFor(async () => pids.every((p) => !alive(p)), { what: "the agent to stop", timeoutMs: 30_000 });
    await closeServer(b.server);
  });

  it("a worker reload: every DNS query sent during the switch is answered", async (t) => {
    const old = workerPid(agent.dir);
    const dns = dnsLoop({ host: DNS_HOST, port: dnsPort }, DNS_NAME, NODE);
    await sleep(300);
    await run(process.execPath, [MAIN_JS, "agent", "--reload", "--data-dir", agent.dir]);
    await waitFor(async () => old !== undefined && !alive(old), { what: "the old worker to exit" });
    await sleep(300);
    const tally = await dns.stop();
    t.diagnostic(`DNS during a worker reload: ${JSON.stringify(tally)}`);
    assertAllAnswered(tally, "during the reload");
  });

  it("ballast agent --upgrade: 0 refused, 0 reset, every DNS query answered; a new keeper holds the sockets", async (t) => {
    const oldKeeper = keeperPid(agent.dir);
    const oldWorker = workerPid(agent.dir);
    assert.ok(oldKeeper !== undefined && alive(oldKeeper), "a keeper runs");
    assert.equal(oldKeeper, proc.pid, "the keeper is the process started");
    const client = clientLoop(NODE, port, CONCURRENCY);
    const dns = dnsLoop({ host: DNS_HOST, port: dnsPort }, DNS_NAME, NODE);
    await sleep(300);
    const startedAt = performance.now();
    const upgrade = await run(process.execPath, [MAIN_JS, "agent", "--upgrade", "--data-dir", agent.dir]);
    const tookMs = Math.round(performance.now() - startedAt);
    assert.match(upgrade.stdout, /upgraded: keeper \d+ serves, keeper \d+ has exited/);
    const newKeeper = keeperPid(agent.dir);
    assert.ok(newKeeper !== undefined && newKeeper !== oldKeeper, "the pid file names a new keeper");
    assert.ok(alive(newKeeper), "the new keeper runs");
    assert.ok(!alive(oldKeeper), "the old keeper is gone");
    assert.ok(oldWorker !== undefined && !alive(oldWorker), "the old worker drained and exited");
    const newWorker = workerPid(agent.dir);
    assert.ok(newWorker !== undefined && newWorker !== oldWorker && alive(newWorker), "a new worker serves");
    await sleep(500);
    const tally = await client.stop();
    const dnsTally = await dns.stop();
    t.diagnostic(
      `keeper upgrade under traffic (${tookMs} ms): HTTP ${JSON.stringify(tally)}; DNS ${JSON.stringify(dnsTally)}`,
    );
    assert.equal(tally.refused, 0, "no connection refused");
    assert.equal(tally.reset, 0, "no connection reset");
    assert.equal(tally.other + tally.badStatus, 0, `no other failure: ${tally.errors.join(",")}`);
    assert.ok(tally.ok > 50, `requests were served throughout (${tally.ok})`);
    assertAllAnswered(dnsTally, "during the keeper's replacement");
    // The new keeper keeps its sockets once the old one is gone: a worker it restarts serves.
    process.kill(newWorker, "SIGKILL");
    await waitFor(
      async () => {
        const w = workerPid(agent.dir);
        return (
          w !== undefined && w !== newWorker && alive(w) && (await fetchRaw(NODE, port, "/")).status === 200
        );
      },
      { what: "the new keeper to start another worker on its sockets" },
    );
  });

  it("an upgrade to a release that does not start is refused; the running keeper and worker serve on", async (t) => {
    const keeper = keeperPid(agent.dir);
    const worker = workerPid(agent.dir);
    assert.ok(keeper !== undefined && alive(keeper));
    const broken = join(agent.dir, "broken-main.js");
    writeFileSync(broken, "process.exit(7);\n");
    rmSync(release(agent.dir));
    symlinkSync(broken, release(agent.dir));
    const client = clientLoop(NODE, port, CONCURRENCY);
    await sleep(200);
    const failed = await run(process.execPath, [MAIN_JS, "agent", "--upgrade", "--data-dir", agent.dir]).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    const tally = await client.stop();
    t.diagnostic(`upgrade to a broken release: ${failed?.stderr?.trim()}; HTTP ${JSON.stringify(tally)}`);
    assert.ok(failed !== undefined, "the upgrade fails");
    assert.equal(failed.code, 1);
    assert.match(failed.stderr ?? "", /the new keeper failed .* serve as before/);
    assert.equal((failed.stderr ?? "").trim().split("\n").length, 1, "one line");
    assert.equal(keeperPid(agent.dir), keeper, "the pid file still names the running keeper");
    assert.ok(alive(keeper));
    assert.equal(workerPid(agent.dir), worker, "its worker was not replaced");
    assert.equal(tally.refused + tally.reset + tally.other + tally.badStatus, 0, tally.errors.join(","));
    assert.match(log(), /the successor keeper failed/);
  });
});
