/**
 * Group commit at the store, without HTTP: 32 writers append to PostgreSQL through one replica
 * store, then through two (in this process, each on its own pool, notifications and memory), for
 * a fixed time each. Every call appends one revision (an instance registered or deregistered on
 * the writer's own load balancer), as in bench/api.ts's mutation phase.
 *
 *   node dist/bench/group-commit.js [--lbs 1000] [--writers 32] [--seconds 4]
 *
 * Prints mutations/s and how many transactions carried them. Nothing here asserts a time.
 */
import { parseArgs } from "node:util";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { ReplicaStore } from "../src/store/postgres/replica-store.js";
import { createLogger } from "../src/util/logger.js";
import { startPostgres } from "../test/support/postgres.js";
import { benchLoadBalancer } from "./fixtures.js";

const { values } = parseArgs({
  options: {
    lbs: { type: "string", default: "1000" },
    writers: { type: "string", default: "32" },
    seconds: { type: "string", default: "4" },
  },
});
const LBS = Number(values.lbs);
const WRITERS = Number(values.writers);
const SECONDS = Number(values.seconds);
const logger = createLogger({}, "error");
const meta = (requestId: string) => ({
  principal: "bench",
  sourceIp: "127.0.0.1",
  requestId,
  action: "Bench",
});

const pg = await startPostgres();
try {
  const a = await ReplicaStore.open(await PostgresStore.open(pg.url), { logger });
  const b = await ReplicaStore.open(await PostgresStore.open(pg.url), { logger });
  await a.mutate(meta("preload"), async (tx) => {
    for (let i = 0; i < LBS; i++) tx.put("loadBalancer", `lb-${i}`, benchLoadBalancer(i, []));
  });
  for (const replicas of [[a], [a, b]]) {
    const before = replicas.map((r) => r.database.commitStats);
    let n = 0;
    const end = Date.now() + SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const store = replicas[w % replicas.length] as ReplicaStore;
        for (let i = 0; Date.now() < end; i++, n++) {
          await store.mutate(meta(`w${w}-${i}`), async (tx) => {
            const lb = await tx.get("loadBalancer", `lb-${w}`);
            if (lb === undefined) throw new Error(`lb-${w} is missing`);
            tx.put("loadBalancer", `lb-${w}`, { ...lb, instances: i % 2 === 0 ? ["10.0.0.1"] : [] });
          });
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = replicas.map((r) => r.database.commitStats);
    const tx = after.reduce((s, x, i) => s + x.transactions - (before[i]?.transactions ?? 0), 0);
    const mem = after.reduce((s, x, i) => s + x.fromMemory - (before[i]?.fromMemory ?? 0), 0);
    console.log(
      `${replicas.length} replica(s), ${WRITERS} writers: ${(n / seconds).toFixed(0)} mutations/s (${n} in ${seconds.toFixed(2)} s, ${tx} transactions, ${mem} of them reading memory)`,
    );
  }
  await a.close();
  await b.close();
} finally {
  await pg.stop();
}
