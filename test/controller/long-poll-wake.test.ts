/**
 * A commit wakes waiting agents at once, with no polling interval in the path: on SQLite (a
 * commit through the control plane's own store) and on PostgreSQL (a commit by another replica,
 * seen through LISTEN/NOTIFY). Every safety-net poll — the channel's head poll and the replica's
 * head read — is set to an hour, and the agent's long-poll waits 25 s: an answer with the new
 * revision can only come from the commit itself. The time it took is reported, not asserted.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AgentChannel } from "../../src/controller/agent-channel.js";
import type { AgentConfig } from "../../src/model/agent-protocol.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { ReplicaStore } from "../../src/store/postgres/replica-store.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { createLogger, silentLogger } from "../../src/util/logger.js";
import { aLoadBalancer, meta } from "../support/builders.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";

const ZONE = "us-east-1a";
const AN_HOUR = 3_600_000;

async function createLb(store: Store, name: string): Promise<number> {
  const r = await store.mutate(meta("CreateLoadBalancer"), async (tx) => {
    tx.put("loadBalancer", name, aLoadBalancer({ name, availabilityZones: [ZONE] }));
  });
  return r.revision?.number ?? 0;
}

/** Starts a 25 s long-poll from `have`, then commits with `commit`; returns the answer and its time after the commit. */
async function wokenBy(
  base: string,
  have: number,
  commit: () => Promise<number>,
): Promise<{ status: number; doc: AgentConfig | undefined; revision: number; ms: number }> {
  const answer = fetch(`${base}/agent/v1/config?zone=${ZONE}&have=${have}&wait=25&delta=1`, {
    headers: { authorization: "Bearer t" },
  });
  // The poll is parked before the commit: nothing has changed for it yet.
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const revision = await commit();
  const res = await answer;
  const ms = performance.now() - t0;
  const doc = res.status === 200 ? ((await res.json()) as AgentConfig) : undefined;
  return { status: res.status, doc, revision, ms };
}

describe("long-poll wake-up on SQLite", () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), "ballast-wake-")), "b.db"));
  const channel = new AgentChannel({
    store,
    token: "t",
    zones: [ZONE],
    logger: silentLogger,
    headPollMs: AN_HOUR,
  });
  let base = "";
  before(async () => {
    base = `http://127.0.0.1:${await channel.listen(0)}`;
    await createLb(store, "first");
  });
  after(async () => {
    await channel.close();
    store.close();
  });

  it("a commit answers a parked poll with the delta of that commit", async (t) => {
    const have = await store.head();
    const r = await wokenBy(base, have, () => createLb(store, "second"));
    t.diagnostic(`SQLite: answered ${r.ms.toFixed(1)} ms after the commit began`);
    assert.equal(r.status, 200);
    assert.equal(r.doc?.revision, r.revision);
    assert.deepEqual(r.doc?.delta, { from: have });
    assert.deepEqual(
      r.doc?.loadBalancers.map((l) => l.name),
      ["second"],
    );
  });
});

describe("long-poll wake-up on PostgreSQL replicas (LISTEN/NOTIFY)", () => {
  const logger = createLogger({}, "error");
  let server: PostgresServer;
  let writer: ReplicaStore;
  let reader: ReplicaStore;
  let channel: AgentChannel;
  let base = "";
  before(async () => {
    server = await startPostgres();
    const open = async () =>
      ReplicaStore.open(await PostgresStore.open(server.url, { schema: "wake" }), {
        logger,
        pollMs: AN_HOUR,
      });
    writer = await open();
    reader = await open();
    channel = new AgentChannel({
      store: reader,
      token: "t",
      zones: [ZONE],
      logger: silentLogger,
      headPollMs: AN_HOUR,
    });
    base = `http://127.0.0.1:${await channel.listen(0)}`;
    await createLb(writer, "first");
  });
  after(async () => {
    await channel?.close();
    await reader?.close();
    await writer?.close();
    await server?.stop();
  });

  it("another replica's commit answers a poll parked on this one", async (t) => {
    const have = await writer.head();
    // This replica has seen the first commit (its notification) before the poll parks.
    for (let i = 0; i < 500 && (await reader.head()) !== have; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(await reader.head(), have);
    const r = await wokenBy(base, have, () => createLb(writer, "second"));
    t.diagnostic(
      `PostgreSQL replicas: answered ${r.ms.toFixed(1)} ms after the other replica's commit began`,
    );
    assert.equal(r.status, 200);
    assert.equal(r.doc?.revision, r.revision);
    assert.deepEqual(
      r.doc?.loadBalancers.map((l) => l.name),
      ["second"],
    );
  });
});
