/**
 * Journal benchmark: point-in-time restore and `state verify` at scale, on both store drivers.
 *
 *   node dist/bench/journal.js [--driver sqlite|postgres|both] [--lbs 10000] [--per-lb 10] [--rounds 3]
 *
 * Builds N load balancers with N×per-lb registered instances through the journal (progress is
 * printed), then per round: the December 2012 shape — a maintenance script logically deletes half
 * of the load balancers and a tenth of the instances — followed by a restore to the revision
 * before it. Then `verifyJournal`. Prints a table; nothing here asserts a time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Instance, LoadBalancer } from "../src/model/types.js";
import { diffsOfKind } from "../src/store/ops/diff.js";
import { restore } from "../src/store/ops/restore.js";
import { currentState } from "../src/store/ops/snapshot.js";
import { verifyJournal } from "../src/store/ops/verify.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { RevisionMeta, Store } from "../src/store/store.js";
import { type PostgresServer, startPostgres } from "../test/support/postgres.js";
import { benchLoadBalancer } from "./fixtures.js";

const { values } = parseArgs({
  options: {
    driver: { type: "string", default: "both" },
    lbs: { type: "string", default: "10000" },
    "per-lb": { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
  },
});
const LBS = Number(values.lbs);
const PER_LB = Number(values["per-lb"]);
const ROUNDS = Number(values.rounds);
const drivers = values.driver === "both" ? ["sqlite", "postgres"] : [values.driver];

let counter = 0;
function meta(action: string, principal = "bench"): RevisionMeta {
  counter++;
  return { principal, sourceIp: "127.0.0.1", requestId: `bench-${counter}`, action };
}

const id = (lb: number, i: number): string => `i-${String(lb * PER_LB + i).padStart(8, "0")}`;

function instance(lb: number, i: number): Instance {
  return {
    instanceId: id(lb, i),
    address: `10.${(lb >> 8) & 255}.${lb & 255}.${i}`,
    zone: i % 2 === 0 ? "us-east-1a" : "us-east-1b",
  };
}

function loadBalancer(lb: number): LoadBalancer {
  const instances: string[] = [];
  for (let i = 0; i < PER_LB; i++) instances.push(id(lb, i));
  return benchLoadBalancer(lb, instances, [{ key: "team", value: `team-${lb % 50}` }]);
}

function progress(label: string, done: number, total: number): void {
  process.stderr.write(`\r  ${label}: ${done.toLocaleString("en")} / ${total.toLocaleString("en")}   `);
  if (done >= total) process.stderr.write("\n");
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const out = await fn();
  return [out, performance.now() - start];
}

/** Instances in revisions of 10,000, then every load balancer in one revision. */
async function build(store: Store): Promise<number> {
  const total = LBS * PER_LB;
  const LBS_PER_REVISION = Math.max(1, Math.floor(10_000 / PER_LB));
  for (let from = 0; from < LBS; from += LBS_PER_REVISION) {
    const to = Math.min(LBS, from + LBS_PER_REVISION);
    await store.mutate(meta("PutInstances", "admin"), async (tx) => {
      for (let lb = from; lb < to; lb++)
        for (let i = 0; i < PER_LB; i++) tx.put("instance", id(lb, i), instance(lb, i));
    });
    progress("instances", to * PER_LB, total);
  }
  await store.mutate(meta("CreateLoadBalancer", "admin"), async (tx) => {
    for (let lb = 0; lb < LBS; lb++) tx.put("loadBalancer", `lb-${lb}`, loadBalancer(lb));
  });
  progress("load balancers", LBS, LBS);
  return store.head();
}

/** The 2012 shape: half of the load balancers and a tenth of the instances logically deleted. */
async function incident(store: Store): Promise<void> {
  await store.mutate(meta("MaintenanceScript", "mistaken-operator"), async (tx) => {
    for (let lb = 0; lb < LBS; lb += 2) tx.delete("loadBalancer", `lb-${lb}`);
    for (let lb = 0; lb < LBS; lb += 1) tx.delete("instance", id(lb, 0));
  });
}

interface Row {
  driver: string;
  build: number;
  restores: number[];
  undo: number;
  verify: number;
  revisions: number;
  entities: number;
}

async function benchDriver(driver: string, open: () => Promise<Store>): Promise<Row> {
  console.log(
    `\n${driver}: building ${LBS.toLocaleString("en")} load balancers, ${(LBS * PER_LB).toLocaleString("en")} instances`,
  );
  const store = await open();
  try {
    const [good, buildMs] = await time(() => build(store));
    const restores: number[] = [];
    let lastRestore = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await incident(store);
      const [r, ms] = await time(() =>
        restore(store, { to: good, meta: { ...meta("RestoreState", "oncall"), ticket: "CHG-2012" } }),
      );
      if (
        !r.revision ||
        diffsOfKind(r.diff, "loadBalancer").length !== Math.ceil(LBS / 2) ||
        diffsOfKind(r.diff, "instance").length !== LBS
      ) {
        throw new Error(
          `restore round ${round} did not undo the incident: ${JSON.stringify(r.diff).slice(0, 200)}`,
        );
      }
      lastRestore = r.revision.number;
      restores.push(ms);
      console.log(`  restore round ${round}: ${ms.toFixed(0)} ms (revision ${r.revision.number})`);
    }
    // Undo of the last restore: back to the incident's state, the other direction.
    const [, undo] = await time(() =>
      restore(store, {
        to: lastRestore - 1,
        meta: { ...meta("RestoreState", "oncall"), ticket: "CHG-2012" },
      }),
    );
    console.log(`  undo of the last restore: ${undo.toFixed(0)} ms`);
    const [report, verify] = await time(() =>
      verifyJournal(store, (done, total) => progress("verify", done, total)),
    );
    if (!report.ok) throw new Error(`verify failed: ${report.firstDivergence?.message}`);
    console.log(
      `  verify: ${verify.toFixed(0)} ms (${report.revisionsChecked} revisions, ${report.entitiesChecked} entities)`,
    );
    const state = await currentState(store);
    if (state.entities.loadBalancer.size !== Math.floor(LBS / 2))
      throw new Error("unexpected state after undo");
    return {
      driver,
      build: buildMs,
      restores,
      undo,
      verify,
      revisions: report.revisionsChecked,
      entities: report.entitiesChecked,
    };
  } finally {
    await store.close();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

const rows: Row[] = [];
let pg: PostgresServer | undefined;
try {
  for (const driver of drivers) {
    if (driver === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "ballast-bench-"));
      try {
        rows.push(await benchDriver("sqlite", async () => new SqliteStore(join(dir, "ballast.db"))));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } else if (driver === "postgres") {
      pg ??= await startPostgres();
      const url = pg.url;
      rows.push(await benchDriver("postgres", () => PostgresStore.open(url, { schema: "bench" })));
    } else {
      throw new Error(`unknown driver ${driver}: use sqlite, postgres or both`);
    }
  }
} finally {
  await pg?.stop();
}

const f = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
console.log(
  `\nJournal benchmark: ${LBS.toLocaleString("en")} load balancers, ${(LBS * PER_LB).toLocaleString("en")} instances, ${ROUNDS} restore rounds\n`,
);
console.log(
  "| driver | build | restore (median) | restore (min–max) | undo restore | verify | revisions | entities |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.driver} | ${f(r.build)} | ${f(median(r.restores))} | ${f(Math.min(...r.restores))}–${f(Math.max(...r.restores))} | ${f(r.undo)} | ${f(r.verify)} | ${r.revisions} | ${r.entities.toLocaleString("en")} |`,
  );
}
