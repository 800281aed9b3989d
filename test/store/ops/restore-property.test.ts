/**
 * Property: for random journals, restoring to any earlier revision yields exactly the state
 * recorded at that revision, and restoring to the revision just before a restore undoes it.
 * A failure prints its seed; replay one with BALLAST_SEED=<seed>.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EntityKind, Protocol } from "../../../src/model/types.js";
import { restore } from "../../../src/store/ops/restore.js";
import { currentState, emptyEntityMaps, stateAt } from "../../../src/store/ops/snapshot.js";
import { verifyJournal } from "../../../src/store/ops/verify.js";
import { PostgresStore } from "../../../src/store/postgres/postgres-store.js";
import type { MutationTx, Store } from "../../../src/store/store.js";
import { aLoadBalancer, anInstance, meta } from "../../support/builders.js";
import { type PostgresServer, startPostgres } from "../../support/postgres.js";
import { aCredential, mulberry32, openTempStore, stateForm } from "./support.js";

const RUNS = 30;
const PG_RUNS = 10;
const MUTATIONS = 40;

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T | undefined => xs[Math.floor(r() * xs.length)];

async function randomMutation(r: Rand, tx: MutationTx): Promise<void> {
  const lbs = await tx.list("loadBalancer");
  const instances = await tx.list("instance");
  const op = Math.floor(r() * 8);
  const lb = pick(r, lbs);
  const name = `lb-${Math.floor(r() * 12)}`;
  const id = `i-${Math.floor(r() * 20)}`;
  switch (op) {
    case 0:
      tx.put("loadBalancer", name, aLoadBalancer({ name, id: String(Math.floor(r() * 1e9)) }));
      return;
    case 1:
      if (lb) tx.delete("loadBalancer", lb.name);
      return;
    case 2: {
      const inst = pick(r, instances);
      if (lb && inst && !lb.instances.includes(inst.instanceId)) {
        tx.put("loadBalancer", lb.name, { ...lb, instances: [...lb.instances, inst.instanceId] });
      }
      return;
    }
    case 3: {
      const gone = lb ? pick(r, lb.instances) : undefined;
      if (lb && gone)
        tx.put("loadBalancer", lb.name, { ...lb, instances: lb.instances.filter((i) => i !== gone) });
      return;
    }
    case 4: {
      const protocol = pick(r, ["HTTP", "TCP"] as const) as Protocol;
      const port = 80 + Math.floor(r() * 3);
      const target = protocol === "HTTP" ? `HTTP:${port}/health` : `TCP:${port}`;
      if (lb) tx.put("loadBalancer", lb.name, { ...lb, healthCheck: { ...lb.healthCheck, target } });
      return;
    }
    case 5:
      tx.put("instance", id, anInstance({ instanceId: id, address: `10.0.0.${Math.floor(r() * 250)}` }));
      return;
    case 6: {
      const inst = pick(r, instances);
      if (inst) tx.delete("instance", inst.instanceId);
      return;
    }
    default: {
      const key = `AKIA${Math.floor(r() * 4)}`;
      if (r() < 0.3) tx.delete("credential", key);
      else tx.put("credential", key, aCredential({ accessKeyId: key, secretAccessKey: `s-${r()}` }));
    }
  }
}

const CONFIG: EntityKind[] = ["loadBalancer", "instance"];

interface OpenedStore {
  readonly store: Store;
  cleanup(): Promise<void>;
}

function restoreProperty(driver: string, runs: number, open: () => Promise<OpenedStore>): void {
  it(`${driver}: restore to a random revision equals the state recorded then (${runs} runs × ${MUTATIONS} mutations)`, async (t) => {
    const fixed = process.env.BALLAST_SEED;
    const seeds = fixed
      ? [Number(fixed)]
      : Array.from({ length: runs }, (_, i) => (Date.now() + i * 7919) >>> 0);
    const heads: number[] = [];
    for (const seed of seeds) {
      const r = mulberry32(seed);
      const { store, cleanup } = await open();
      try {
        const recorded = new Map<number, string>([[0, stateForm(await currentState(store))]]);
        for (let i = 0; i < MUTATIONS; i++) {
          await store.mutate(meta("Random"), (tx) => randomMutation(r, tx));
          const s = await currentState(store);
          recorded.set(s.revision, stateForm(s));
        }
        const head = await store.head();
        heads.push(head);
        if (head < 2) continue;
        const to = 1 + Math.floor(r() * (head - 1));
        const includeCredentials = r() < 0.5;
        const pre = await currentState(store);
        const kinds: EntityKind[] = includeCredentials ? [...CONFIG, "credential"] : CONFIG;
        const ctx = `seed ${seed} (BALLAST_SEED=${seed}), head ${head}, restore to ${to}, credentials ${includeCredentials}`;

        const done = await restore(store, { to, includeCredentials, meta: meta("Restore") });
        const after = await currentState(store);
        assert.ok(recorded.has(to), ctx);
        assert.equal(stateForm(after, kinds), stateForm(await stateAt(store, to), kinds), ctx);
        assert.equal(stateForm(after, kinds), stateForm(stateFromForm(recorded.get(to)), kinds), ctx);
        if (!includeCredentials)
          assert.equal(stateForm(after, ["credential"]), stateForm(pre, ["credential"]), ctx);

        if (done.revision) {
          await restore(store, {
            to: done.revision.number - 1,
            includeCredentials: true,
            meta: meta("Undo"),
          });
          assert.equal(stateForm(await currentState(store)), stateForm(pre), `undo: ${ctx}`);
        }
        const report = await verifyJournal(store);
        assert.equal(report.ok, true, `verify: ${ctx}: ${report.firstDivergence?.message}`);
      } catch (e) {
        t.diagnostic(`failing seed: ${seed}`);
        throw e;
      } finally {
        await cleanup();
      }
    }
    t.diagnostic(`${seeds.length} runs, revisions per run ${Math.min(...heads)}–${Math.max(...heads)}`);
  });
}

restoreProperty("sqlite", RUNS, openTempStore);

describe("on PostgreSQL", () => {
  let server: PostgresServer | undefined;
  let schemas = 0;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  restoreProperty("postgres", PG_RUNS, async () => {
    if (!server) throw new Error("PostgreSQL did not start");
    const store = await PostgresStore.open(server.url, { schema: `property_${++schemas}` });
    return { store, cleanup: () => store.close() };
  });
});

/** Rebuilds a State from its canonical form, so the recorded form is what gets compared. */
function stateFromForm(form: string | undefined): Parameters<typeof stateForm>[0] {
  const entries = JSON.parse(form ?? "[]") as { kind: EntityKind; key: string; doc: never }[];
  const entities = emptyEntityMaps();
  for (const e of entries) (entities[e.kind] as Map<string, unknown>).set(e.key, e.doc);
  return { revision: -1, entities };
}
