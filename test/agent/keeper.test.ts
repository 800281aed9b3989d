/**
 * The keeper with real worker processes (small scripts speaking its IPC protocol): a reload whose
 * new worker never becomes ready is abandoned and the old worker keeps serving; a socket released
 * by the worker in charge is closed (its address refuses again) while a release from a retiring
 * worker is ignored; a handover to a successor keeper (a script speaking its side of the protocol)
 * leaves the socket listening after the old keeper closed its copy, and one to a successor that
 * fails changes nothing.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { after, describe, it } from "node:test";
import { Keeper, type WorkerHistory } from "../../src/agent/keeper.js";
import { handOver } from "../../src/agent/keeper-handover.js";
import { silentLogger } from "../../src/util/logger.js";
import { freePort, waitFor } from "../proxy/helpers.js";

/**
 * A worker: asks for ADDRESS:PORT, answers every connection with its NAME; says it is ready
 * unless NEVER_READY; on "release-it" asks the keeper to release the socket; drains by exiting.
 */
const WORKER = `
const net = require("node:net");
const { ADDRESS, PORT, NAME, NEVER_READY } = process.env;
process.on("message", (m, handle) => {
  if (m.kind === "socket" && handle) {
    net.createServer((c) => c.end(NAME)).listen(handle, () => {
      if (!NEVER_READY) process.send({ kind: "ready" });
    });
  } else if (m.kind === "drain") process.exit(0);
});
process.on("SIGUSR1", () => process.send({ kind: "release", address: ADDRESS, port: Number(PORT) }));
process.send({ kind: "acquire", id: 1, address: ADDRESS, port: Number(PORT) });
`;

/**
 * A successor keeper's side of the handover: says it listens, serves every TCP socket it is
 * handed with NAME, then says it is ready — or, with FAIL, exits once it has them all.
 */
const SUCCESSOR = `
const net = require("node:net");
const { NAME, FAIL } = process.env;
process.on("message", (m, handle) => {
  if (m.kind === "handover-socket" && handle) net.createServer((c) => c.end(NAME)).listen(handle);
  else if (m.kind === "handover-end") {
    if (FAIL) process.exit(3);
    process.send({ kind: "successor-ready", sockets: m.count });
  }
});
process.send({ kind: "successor-listening" });
`;

function successor(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["-e", SUCCESSOR], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
}

async function firstReply(host: string, port: number): Promise<string> {
  let got = "";
  for (let i = 0; i < 100 && got === ""; i++) {
    got = await reply(host, port).catch(() => "");
    if (got === "") await new Promise((r) => setTimeout(r, 50));
  }
  return got;
}

function reply(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let out = "";
    s.on("data", (d: Buffer) => {
      out += d.toString();
    });
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
}

describe("the agent keeper", () => {
  const a = 100 + Math.floor(Math.random() * 100);
  const HOST = `127.${a}.${1 + Math.floor(Math.random() * 250)}.7`;
  const keepers: Keeper[] = [];
  after(async () => {
    for (const k of keepers) await k.stop();
  });

  function keeper(
    port: number,
    env: (h: WorkerHistory) => Record<string, string>,
    workers: ChildProcess[],
  ): Keeper {
    const k = new Keeper({
      logger: silentLogger,
      drainTimeoutMs: 1000,
      readyTimeoutMs: 1500,
      spawnWorker: (h) => {
        const w = spawn(process.execPath, ["-e", WORKER], {
          stdio: ["ignore", "ignore", "inherit", "ipc"],
          env: { ...process.env, ADDRESS: HOST, PORT: String(port), ...env(h) },
        });
        workers.push(w);
        return w;
      },
    });
    keepers.push(k);
    return k;
  }

  it("abandons a reload whose new worker never becomes ready; the old worker keeps serving", async () => {
    const port = await freePort(HOST);
    const workers: ChildProcess[] = [];
    const k = keeper(
      port,
      (h): Record<string, string> =>
        h.starts === 1 ? { NAME: "first" } : { NAME: "second", NEVER_READY: "1" },
      workers,
    );
    k.start();
    await waitFor("the first worker serving", () => workers.length === 1, 1000);
    let first = "";
    for (let i = 0; i < 100 && first === ""; i++) {
      first = await reply(HOST, port).catch(() => "");
      if (first === "") await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(first, "first");
    assert.equal(await k.reload(), false, "the reload is abandoned");
    assert.ok(workers[1]?.killed, "the worker that never became ready is killed");
    for (let i = 0; i < 5; i++) assert.equal(await reply(HOST, port), "first");
    assert.equal(k.crashes, 0);
    assert.equal(k.sockets, 1);
  });

  it("closes a socket the worker in charge releases, and ignores a release from one it retired", async () => {
    const port = await freePort(HOST);
    const workers: ChildProcess[] = [];
    const k = keeper(port, (h) => ({ NAME: `w${h.starts}` }), workers);
    k.start();
    await waitFor("the first worker", () => workers.length === 1, 1000);
    let got = "";
    for (let i = 0; i < 100 && got === ""; i++) {
      got = await reply(HOST, port).catch(() => "");
      if (got === "") await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(got, "w1");
    assert.equal(await k.reload(), true);
    // The first worker drains (exits) on the keeper's word; only w2 answers from now on.
    await new Promise((r) => workers[0]?.once("exit", r));
    assert.equal(await reply(HOST, port), "w2");
    assert.equal(k.sockets, 1, "a retired worker's exit does not close the socket");
    workers[1]?.kill("SIGUSR1");
    for (let i = 0; i < 100 && k.sockets > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(k.sockets, 0, "the worker in charge released it");
  });

  it("hands its socket to a successor keeper: the address answers from it after the old keeper closed its copy", async () => {
    const port = await freePort(HOST);
    const workers: ChildProcess[] = [];
    const k = keeper(port, (h) => ({ NAME: `w${h.starts}` }), workers);
    k.start();
    assert.equal(await firstReply(HOST, port), "w1");
    const next = successor({ NAME: "successor" });
    try {
      assert.equal(await handOver(k, next, silentLogger, 10_000), true, "the successor took over");
      await k.retire();
      assert.equal(k.sockets, 0, "the old keeper closed its copy");
      assert.ok(workers[0]?.exitCode !== null || workers[0]?.signalCode !== null, "its worker drained");
      for (let i = 0; i < 5; i++) assert.equal(await reply(HOST, port), "successor");
    } finally {
      next.kill("SIGKILL");
    }
  });

  it("a successor keeper that fails before serving: the old keeper keeps its socket and its worker", async () => {
    const port = await freePort(HOST);
    const workers: ChildProcess[] = [];
    const k = keeper(port, (h) => ({ NAME: `w${h.starts}` }), workers);
    k.start();
    assert.equal(await firstReply(HOST, port), "w1");
    const next = successor({ NAME: "successor", FAIL: "1" });
    assert.equal(await handOver(k, next, silentLogger, 10_000), false, "the handover is abandoned");
    assert.ok(next.exitCode !== null || next.signalCode !== null, "the successor is gone");
    assert.equal(k.sockets, 1);
    for (let i = 0; i < 5; i++) assert.equal(await reply(HOST, port), "w1");
    assert.equal(workers.length, 1, "no worker was replaced");
  });
});
