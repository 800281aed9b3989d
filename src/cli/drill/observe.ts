/** What the christmas-eve drill watches and does around the phases: traffic, the state, alarms, raw SQL. */
import { Resolver } from "node:dns/promises";
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { EntityKind, LoadBalancer } from "../../model/types.js";
import type { AnyDoc } from "../../store/ops/entity.js";
import { parseExport } from "../../store/ops/export.js";
import { emptyEntityMaps, type State } from "../../store/ops/snapshot.js";
import type { Store } from "../../store/store.js";
import { isSealed } from "../../util/secret-key.js";
import { UsageError } from "../args.js";
import type { SignedClient } from "../signed-client.js";
import { DRILL_TAG, type LbTraffic } from "./report.js";

export interface Alarms {
  readonly verified: boolean;
  readonly repairs: number;
  readonly alarms: readonly { kind: string; message: string }[];
}

export async function alarms(client: SignedClient): Promise<Alarms> {
  const r = await client.send("GET", "/admin/v1/alarms");
  if (r.status !== 200) throw new Error(`alarms: ${r.status} ${r.body}`);
  const s = (JSON.parse(r.body) as { state: Alarms | null }).state;
  return s ?? { verified: true, repairs: 0, alarms: [] };
}

export async function allPresent(
  store: Store,
  rows: readonly { kind: EntityKind; key: string }[],
): Promise<boolean> {
  for (const r of rows) if ((await store.get(r.kind, r.key)) === undefined) return false;
  return true;
}

export async function exportState(client: SignedClient): Promise<State> {
  const r = await client.send("GET", "/admin/v1/state/export");
  if (r.status !== 200) throw new Error(`state export: ${r.status} ${r.body.slice(0, 300)}`);
  // The drill has no secret key: sealed secrets (sealed anew by each export) are left out of the
  // comparison; everything else is compared as the export states it.
  const doc = parseExport(r.body, "the state export");
  const maps = emptyEntityMaps();
  for (const e of doc.entities) {
    const plain = Object.fromEntries(
      Object.entries(e.doc as unknown as Record<string, unknown>).filter(
        ([, v]) => !(typeof v === "string" && isSealed(v)),
      ),
    );
    (maps[e.kind] as Map<string, AnyDoc>).set(e.key, plain as unknown as AnyDoc);
  }
  return { revision: doc.revision, entities: maps };
}

export function withoutDrillTag(state: State): State {
  const lbs = new Map<string, LoadBalancer>();
  for (const [key, lb] of state.entities.loadBalancer)
    lbs.set(key, { ...lb, tags: lb.tags.filter((t) => t.key !== DRILL_TAG) });
  return { revision: state.revision, entities: { ...state.entities, loadBalancer: lbs } };
}

/** The load balancers some agent serves differently from `lbs` (listeners, back ends) now. */
export async function misconfiguredNow(store: Store, lbs: readonly LoadBalancer[]): Promise<string[]> {
  const now = Date.now();
  const fresh = (await store.agentStatuses()).filter((s: AgentStatus) => now - Date.parse(s.time) <= 10_000);
  const out: string[] = [];
  for (const lb of lbs) {
    const want = lb.listeners
      .map((l) => `${l.protocol}:${l.loadBalancerPort}`)
      .sort()
      .join(",");
    const instances = [...lb.instances].sort().join(",");
    for (const s of fresh) {
      if (!lb.availabilityZones.includes(s.zone)) continue;
      const node = s.nodes.find((x) => x.loadBalancer === lb.name);
      const served = node?.listeners
        .map((l) => `${l.protocol}:${l.port}`)
        .sort()
        .join(",");
      const health = [
        ...new Set(
          s.health.filter((h) => h.loadBalancer === lb.name && !h.draining).map((h) => h.instanceId),
        ),
      ]
        .sort()
        .join(",");
      if (served !== want || health !== instances) {
        out.push(lb.name);
        break;
      }
    }
  }
  return out;
}

/** Sends GETs through the nodes, round robin, until stopped; the stop function waits for the loop. */
export function sendTraffic(
  t: LbTraffic,
  ports: readonly number[],
  rate: number,
  max: number,
): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped && t.sent < max; i++) {
      const addr = t.nodes[i % t.nodes.length];
      const port = ports[i % ports.length];
      t.sent++;
      try {
        const res = await fetch(`http://${addr}:${port}/`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status >= 500) {
          t.failed++;
          if (t.errors.length < 5) t.errors.push(`HTTP ${res.status} from ${addr}:${port}`);
        }
      } catch (e) {
        t.failed++;
        if (t.errors.length < 5) t.errors.push(`${addr}:${port}: ${String(e)}`);
      }
      await sleep(1000 / rate);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/** Runs `fn` every `ms` (never overlapping) until the returned stop function is called. */
export function every(ms: number, fn: () => Promise<void>): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await fn().catch(() => undefined);
      await sleep(ms);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

export interface RawSql {
  sql(statement: string, params: readonly unknown[]): Promise<number>;
  param(i: number): string;
  readonly dropGuard: readonly string[];
}

/** The database as the maintenance process had it: plain SQL, guards dropped where they stand. */
export function rawSqlOf(store: Store): RawSql {
  const withRaw = store as Store & { rawSql?: (sql: string, params?: readonly unknown[]) => Promise<number> };
  const rawSql = withRaw.rawSql?.bind(store);
  if (rawSql === undefined) throw new UsageError(`the ${store.driver} store gives no raw SQL access`);
  const tables = ["revisions", "versions", "compactions"];
  return store.driver === "postgres"
    ? {
        sql: (s, p) => rawSql(s, p),
        param: (i) => `$${i}`,
        dropGuard: tables.map((t) => `DROP TRIGGER IF EXISTS ${t}_append_only ON ${t}`),
      }
    : {
        sql: (s, p) => rawSql(s, p),
        param: () => "?",
        dropGuard: tables.flatMap((t) => [
          `DROP TRIGGER IF EXISTS ${t}_no_update`,
          `DROP TRIGGER IF EXISTS ${t}_no_delete`,
        ]),
      };
}

/** `count` elements of `from`, spread evenly (deterministic: a drill is repeatable). */
export function pick<T>(from: readonly T[], count: number): T[] {
  const out: T[] = [];
  const step = from.length / Math.min(count, from.length);
  for (let i = 0; i < Math.min(count, from.length); i++) {
    const v = from[Math.floor(i * step)];
    if (v !== undefined) out.push(v);
  }
  return out;
}

export async function resolveA(dnsPort: number, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 2 });
  r.setServers([`127.0.0.1:${dnsPort}`]);
  return (await r.resolve4(name)).sort();
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]" || host === "::1";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
