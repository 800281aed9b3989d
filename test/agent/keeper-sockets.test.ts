/**
 * The worker's side of the keeper: a keeper that answers a long queue of questions slowly but
 * steadily is waited for however long the queue takes (node passes handles over IPC one at a
 * time, so a worker of 10,000 load balancers gets its last socket seconds after asking); a keeper
 * that falls silent fails every open question once the silence lasts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkerMessage } from "../../src/agent/keeper-protocol.js";
import { KeeperSockets } from "../../src/agent/keeper-sockets.js";

/** A keeper emulated in-process: it records questions; the test answers them. */
function fakeKeeper(silenceMs: number) {
  const asked: Extract<WorkerMessage, { kind: "acquire" }>[] = [];
  let deliver: (m: unknown, handle: unknown) => void = () => {};
  const sockets = new KeeperSockets(
    (m) => {
      if (m.kind === "acquire") asked.push(m);
    },
    (cb) => {
      deliver = cb;
    },
    () => {},
    silenceMs,
  );
  const answer = (id: number): void => deliver({ kind: "socket", id }, { fd: id });
  return { sockets, asked, answer };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("keeper sockets", () => {
  it("waits out a queue longer than the silence timeout while answers keep coming", async () => {
    const { sockets, asked, answer } = fakeKeeper(150);
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => sockets.acquire("127.0.0.1", 20_000 + i)));
    assert.equal(asked.length, 20);
    const t0 = performance.now();
    for (const q of asked) {
      await sleep(50);
      answer(q.id);
    }
    const handles = await all;
    assert.equal(handles.length, 20);
    assert.ok(performance.now() - t0 > 150 * 3, "the queue took several silence timeouts in all");
  });

  it("fails every open question when the keeper falls silent", async (t) => {
    // The watch is unref'd (a worker's IPC channel keeps it alive): hold the loop open meanwhile.
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    const { sockets, asked, answer } = fakeKeeper(150);
    const first = sockets.acquire("127.0.0.1", 20_001);
    const second = sockets.acquire("127.0.0.1", 20_002);
    answer(asked[0]?.id ?? 0);
    assert.ok(await first);
    await assert.rejects(second, /did not answer for tcp 127\.0\.0\.1:20002 \(silent for 150 ms\)/);
    // A question after the silence starts its own watch.
    const third = sockets.acquire("127.0.0.1", 20_003);
    await assert.rejects(third, /20003/);
  });
});
