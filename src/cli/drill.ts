/**
 * `ballast drill christmas-eve`: the 24 December 2012 outage, rehearsed against a running
 * deployment. It bypasses the API on purpose — as the maintenance process did — so it needs the
 * database (`--store`, as `ballast up`/`control` take it) besides the endpoint and credentials.
 *
 * 1. Reads the state (admin export) and resolves every load balancer's DNS name at Ballast's DNS
 *    responder; sends HTTP requests through each one's nodes, at a bounded rate, for the whole
 *    drill (loopback addresses only).
 * 2. Deletes a share (default 30 %) of the rows of the `current` table — every kind but API
 *    credentials — straight in the database, and keeps making ordinary API changes (a tag, a
 *    health-check threshold) meanwhile. Waits for the controller to detect and repair it.
 * 3. With `--journal`: drops the journal's append-only guard, as the maintenance process would,
 *    and deletes the versions of a share of the revisions: damage the store cannot repair. Waits
 *    for read-only mode, then repairs as an operator would (`state repair --apply`), and waits for
 *    the service to take changes again.
 * 4. Puts back the health checks it changed, reads the state again, and reports: requests sent and
 *    failed per load balancer, time to detect and to repair, load balancers misconfigured (an
 *    agent's report — listeners and back ends — differing from the state before the drill, at any
 *    sample), and the diff of the state before and after, leaving out its own tag.
 *
 * Exit code 1 when a request failed, a load balancer was misconfigured, the diff is not empty, or
 * detection or repair did not happen in time.
 */
import { Resolver } from "node:dns/promises";
import { resolve as resolvePath } from "node:path";
import { parseArgs } from "node:util";
import type { AgentStatus } from "../model/agent-protocol.js";
import { ENTITY_KINDS, type EntityKind, type LoadBalancer } from "../model/types.js";
import { openStore } from "../store/open.js";
import { diffLines, diffStates } from "../store/ops/diff.js";
import type { AnyDoc } from "../store/ops/entity.js";
import { parseExport } from "../store/ops/export.js";
import { emptyEntityMaps, type State } from "../store/ops/snapshot.js";
import type { Store } from "../store/store.js";
import { isSealed } from "../util/secret-key.js";
import { UsageError } from "./args.js";
import { credentials } from "./instances.js";
import { SignedClient } from "./signed-client.js";

const USAGE = `usage: ballast drill christmas-eve [--endpoint URL] [--region R] [--data-dir DIR]
    [--store sqlite|sqlite:/path|postgres://…] [--dns-port 8053] [--share 30] [--journal]
    [--duration 15] [--rate 10] [--max-requests 2000] [--timeout 60] [--read-only 3] [--json]`;

/** The tag the drill's own ordinary changes set; left out of the before/after diff. */
export const DRILL_TAG = "ballast-drill";

export interface DrillOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly dataDir: string;
  readonly store: string;
  readonly dnsPort: number;
  /** Share of the current state's rows deleted, 0 < share ≤ 1. */
  readonly share: number;
  readonly journal: boolean;
  /** Seconds of ordinary API changes after the damage (at least until repaired). */
  readonly durationSeconds: number;
  /** Requests per second per load balancer. */
  readonly rate: number;
  readonly maxRequestsPerLb: number;
  /** Seconds to wait for detection, and again for repair. */
  readonly timeoutSeconds: number;
  /** Seconds the drill stays in read-only mode before it repairs (an operator reading the plan). */
  readonly readOnlySeconds: number;
}

export interface LbTraffic {
  readonly name: string;
  readonly nodes: readonly string[];
  sent: number;
  failed: number;
  readonly errors: string[];
}

export interface Phase {
  readonly name: string;
  readonly damage: string;
  detectSeconds: number | null;
  repairSeconds: number | null;
  readonly notes: string[];
}

export interface DrillReport {
  readonly ok: boolean;
  readonly loadBalancers: number;
  readonly traffic: readonly LbTraffic[];
  readonly phases: readonly Phase[];
  /**
   * The drill's ordinary API changes: accepted, refused in read-only mode (ServiceUnavailable),
   * failed while the state was damaged and not yet repaired (e.g. LoadBalancerNotFound for a
   * deleted row: expected, and reported), and failed otherwise (a drill failure).
   */
  readonly changes: { ok: number; refusedReadOnly: number; failedWhileDamaged: number; failed: number };
  readonly misconfigured: readonly string[];
  readonly dnsLookupsFailed: number;
  readonly diff: readonly string[];
  readonly failures: readonly string[];
}

export async function drillCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
      store: { type: "string", default: "sqlite" },
      "dns-port": { type: "string", default: "8053" },
      share: { type: "string", default: "30" },
      journal: { type: "boolean", default: false },
      duration: { type: "string", default: "15" },
      rate: { type: "string", default: "10" },
      "max-requests": { type: "string", default: "2000" },
      timeout: { type: "string", default: "60" },
      "read-only": { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  if (positionals[0] !== "christmas-eve" || positionals.length !== 1) throw new UsageError(USAGE);
  const num = (raw: string, flag: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new UsageError(`--${flag} must be from ${min} to ${max}`);
    return n;
  };
  const report = await runChristmasEve(
    {
      endpoint: values.endpoint,
      region: values.region,
      dataDir: resolvePath(values["data-dir"]),
      store: values.store,
      dnsPort: num(values["dns-port"], "dns-port", 1, 65535),
      share: num(values.share, "share", 1, 100) / 100,
      journal: values.journal,
      durationSeconds: num(values.duration, "duration", 1, 3600),
      rate: num(values.rate, "rate", 1, 200),
      maxRequestsPerLb: num(values["max-requests"], "max-requests", 1, 1_000_000),
      timeoutSeconds: num(values.timeout, "timeout", 1, 3600),
      readOnlySeconds: num(values["read-only"], "read-only", 0, 3600),
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  console.log(values.json ? JSON.stringify(report, null, 2) : reportText(report));
  if (!report.ok) process.exitCode = 1;
}

export async function runChristmasEve(opts: DrillOptions, log: (line: string) => void): Promise<DrillReport> {
  const started = performance.now();
  const secs = (): string => ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  const progress = (msg: string): void => log(`[${secs()}s] ${msg}`);
  const endpoint = new URL(opts.endpoint);
  if (!isLoopback(endpoint.hostname))
    throw new UsageError(`the drill runs against a loopback endpoint only, not ${endpoint.hostname}`);
  const client = new SignedClient(opts.endpoint, await credentials(opts.dataDir), opts.region);
  const store = await openStore(opts.store, opts.dataDir);
  const raw = rawSqlOf(store);
  const failures: string[] = [];
  const phases: Phase[] = [];
  const changes = { ok: 0, refusedReadOnly: 0, failedWhileDamaged: 0, failed: 0 };
  let damaged = false;
  const misconfigured = new Set<string>();
  let dnsLookupsFailed = 0;
  const stops: (() => Promise<void>)[] = [];
  try {
    // 1. The state before, and traffic through every load balancer.
    const before = await exportState(client);
    const lbs = [...before.entities.loadBalancer.values()].filter(
      (lb) => (lb.region ?? "us-east-1") === opts.region,
    );
    if (lbs.length === 0) throw new UsageError(`no load balancers in ${opts.region} to drill with`);
    progress(`${lbs.length} load balancer(s) at revision ${before.revision}; resolving their DNS names`);
    const traffic: LbTraffic[] = [];
    for (const lb of lbs) {
      const ports = lb.listeners.filter((l) => l.protocol === "HTTP").map((l) => l.loadBalancerPort);
      let nodes: string[] = [];
      try {
        nodes = await resolveA(opts.dnsPort, lb.dnsName);
      } catch (e) {
        failures.push(`load balancer ${lb.name}: its DNS name ${lb.dnsName} does not resolve (${String(e)})`);
      }
      const bad = nodes.filter((a) => !isLoopback(a));
      if (bad.length > 0)
        throw new UsageError(`load balancer ${lb.name} resolves to non-loopback ${bad.join(", ")}`);
      const t: LbTraffic = { name: lb.name, nodes, sent: 0, failed: 0, errors: [] };
      traffic.push(t);
      if (ports.length === 0 || nodes.length === 0) continue;
      stops.push(sendTraffic(t, ports, opts.rate, opts.maxRequestsPerLb));
    }
    progress(
      `traffic: ${traffic.filter((t) => t.nodes.length > 0).length} load balancer(s), ${opts.rate} request(s)/s each`,
    );
    // Agents' reports and DNS answers, sampled every second for the whole drill.
    stops.push(
      every(1000, async () => {
        for (const name of await misconfiguredNow(store, lbs)) {
          if (!misconfigured.has(name)) progress(`MISCONFIGURED: ${name}`);
          misconfigured.add(name);
        }
        for (const lb of lbs) {
          try {
            await resolveA(opts.dnsPort, lb.dnsName);
          } catch {
            dnsLookupsFailed++;
          }
        }
      }),
    );
    await sleep(1500);
    if (opts.journal) {
      const r = await client.send("POST", "/admin/v1/state/backups");
      progress(
        r.status === 200
          ? `backup taken before the damage: ${r.body}`
          : `backup failed: ${r.status} ${r.body}`,
      );
    }

    // Ordinary changes from the damage on: a tag and a health-check threshold, in turn. Started
    // after the first deletion: a change in flight when a row is deleted writes the row back.
    const healthChecks = new Map(lbs.map((lb) => [lb.name, lb.healthCheck]));
    let n = 0;
    let changer: (() => Promise<void>) | undefined;
    const startChanges = (): void => {
      changer = every(300, change);
      stops.push(changer);
    };
    const change = async (): Promise<void> => {
      const lb = lbs[n % lbs.length] as LoadBalancer;
      n++;
      try {
        if (n % 2 === 0) {
          await client.query("AddTags", {
            "LoadBalancerNames.member.1": lb.name,
            "Tags.member.1.Key": DRILL_TAG,
            "Tags.member.1.Value": String(n),
          });
        } else {
          const hc = lb.healthCheck;
          await client.query("ConfigureHealthCheck", {
            LoadBalancerName: lb.name,
            "HealthCheck.Target": hc.target,
            "HealthCheck.Interval": String(hc.interval),
            "HealthCheck.Timeout": String(hc.timeout),
            "HealthCheck.UnhealthyThreshold": String(hc.unhealthyThreshold),
            "HealthCheck.HealthyThreshold": String(hc.healthyThreshold === 10 ? 9 : hc.healthyThreshold + 1),
          });
        }
        changes.ok++;
      } catch (e) {
        if (/ServiceUnavailable/.test(String(e))) changes.refusedReadOnly++;
        else if (damaged) changes.failedWhileDamaged++;
        else {
          changes.failed++;
          failures.push(`ordinary change failed: ${String(e)}`);
        }
      }
    };
    const changesUntil = performance.now() + opts.durationSeconds * 1000;

    // 2. The maintenance process: a share of the current state deleted behind the API's back.
    damaged = true;
    phases.push(await currentStatePhase(store, raw, client, before, opts, progress, startChanges));
    damaged = false;

    // 3. Optionally, damage to the journal itself: read-only mode, then `state repair`.
    if (opts.journal) {
      damaged = true;
      phases.push(await journalPhase(store, raw, client, opts, progress));
      damaged = false;
    }

    const left = changesUntil - performance.now();
    if (left > 0) {
      progress(`ordinary changes go on for ${(left / 1000).toFixed(0)} s more`);
      await sleep(left);
    }
    if (changer !== undefined) {
      await changer();
      stops.splice(stops.indexOf(changer), 1);
    }
    // 4. Undo the drill's own health-check changes, let traffic run a moment more, and compare.
    for (const [name, hc] of healthChecks) {
      await client
        .query("ConfigureHealthCheck", {
          LoadBalancerName: name,
          "HealthCheck.Target": hc.target,
          "HealthCheck.Interval": String(hc.interval),
          "HealthCheck.Timeout": String(hc.timeout),
          "HealthCheck.UnhealthyThreshold": String(hc.unhealthyThreshold),
          "HealthCheck.HealthyThreshold": String(hc.healthyThreshold),
        })
        .catch((e: unknown) => failures.push(`could not put back the health check of ${name}: ${String(e)}`));
    }
    await sleep(1500);
    for (const s of stops.splice(0)) await s();
    const after = await exportState(client);
    const diff = diffLines(diffStates(withoutDrillTag(before), withoutDrillTag(after)));

    for (const t of traffic)
      if (t.failed > 0) failures.push(`load balancer ${t.name}: ${t.failed} of ${t.sent} request(s) failed`);
    for (const name of misconfigured) failures.push(`load balancer ${name} was misconfigured by an agent`);
    if (diff.length > 0)
      failures.push(`the state after the drill differs from the state before (${diff.length} line(s))`);
    for (const p of phases) {
      if (p.detectSeconds === null)
        failures.push(`${p.name}: the damage was not detected within ${opts.timeoutSeconds} s`);
      if (p.repairSeconds === null)
        failures.push(`${p.name}: the damage was not repaired within ${opts.timeoutSeconds} s`);
    }
    return {
      ok: failures.length === 0,
      loadBalancers: lbs.length,
      traffic,
      phases,
      changes,
      misconfigured: [...misconfigured].sort(),
      dnsLookupsFailed,
      diff,
      failures,
    };
  } finally {
    for (const s of stops) await s().catch(() => undefined);
    await store.close();
  }
}

/** Phase 1: a share of the `current` rows deleted; the controller repairs them from the journal. */
async function currentStatePhase(
  store: Store,
  raw: RawSql,
  client: SignedClient,
  before: State,
  opts: DrillOptions,
  progress: (msg: string) => void,
  afterDamage: () => void,
): Promise<Phase> {
  const rows: { kind: EntityKind; key: string }[] = [];
  for (const kind of ENTITY_KINDS) {
    if (kind === "credential") continue;
    for (const key of before.entities[kind].keys()) rows.push({ kind, key });
  }
  const doomed = pick(rows, Math.max(1, Math.ceil(opts.share * rows.length)));
  const alarms0 = await alarms(client);
  const phase: Phase = {
    name: "current state deleted",
    damage: `${doomed.length} of ${rows.length} rows of the current table (every kind but credentials)`,
    detectSeconds: null,
    repairSeconds: null,
    notes: [],
  };
  const p = raw.param;
  const t0 = performance.now();
  let deleted = 0;
  for (const r of doomed)
    deleted += await raw.sql(`DELETE FROM current WHERE kind = ${p(1)} AND key = ${p(2)}`, [r.kind, r.key]);
  progress(`deleted ${deleted} of ${rows.length} current-state rows directly in the database`);
  afterDamage();
  const deadline = t0 + opts.timeoutSeconds * 1000;
  while (performance.now() < deadline) {
    const a = await alarms(client).catch(() => undefined);
    if (phase.detectSeconds === null && a !== undefined && (a.repairs > alarms0.repairs || !a.verified)) {
      phase.detectSeconds = (performance.now() - t0) / 1000;
      progress(
        `detected after ${phase.detectSeconds.toFixed(1)} s (${a.repairs - alarms0.repairs} automatic repair(s))`,
      );
    }
    if (phase.detectSeconds !== null && a?.verified && (await allPresent(store, doomed))) {
      phase.repairSeconds = (performance.now() - t0) / 1000;
      progress(
        `repaired after ${phase.repairSeconds.toFixed(1)} s: every deleted row is back and the state verifies`,
      );
      break;
    }
    await sleep(200);
  }
  return phase;
}

/** Phase 2: the journal's own rows damaged; read-only mode; `state repair --apply`. */
async function journalPhase(
  store: Store,
  raw: RawSql,
  client: SignedClient,
  opts: DrillOptions,
  progress: (msg: string) => void,
): Promise<Phase> {
  const head = await store.head();
  const first = Math.max(1, head - 200);
  const revisions = Array.from({ length: head - first + 1 }, (_, i) => first + i);
  const doomed = pick(revisions, Math.max(1, Math.ceil(opts.share * revisions.length)));
  const phase: Phase = {
    name: "journal damaged",
    damage: `the versions of ${doomed.length} of revisions ${first}–${head}, after dropping the journal's guard`,
    detectSeconds: null,
    repairSeconds: null,
    notes: [],
  };
  for (const stmt of raw.dropGuard) await raw.sql(stmt, []);
  const t0 = performance.now();
  let deleted = 0;
  for (const r of doomed)
    deleted += await raw.sql(`DELETE FROM versions WHERE revision = ${raw.param(1)}`, [r]);
  progress(
    `dropped the journal's guard and deleted ${deleted} version row(s) of ${doomed.length} revision(s)`,
  );
  const deadline = t0 + opts.timeoutSeconds * 1000;
  while (performance.now() < deadline) {
    const a = await alarms(client).catch(() => undefined);
    if (a?.alarms.some((x) => x.kind === "journal-damaged")) {
      phase.detectSeconds = (performance.now() - t0) / 1000;
      progress(`detected after ${phase.detectSeconds.toFixed(1)} s: read-only mode`);
      break;
    }
    await sleep(200);
  }
  if (phase.detectSeconds === null) return phase;
  const plan = await client.send("POST", "/admin/v1/state/repair", "{}", "application/json");
  if (opts.readOnlySeconds > 0) {
    progress(`staying read-only for ${opts.readOnlySeconds} s, as an operator reads the plan`);
    await sleep(opts.readOnlySeconds * 1000);
  }
  phase.notes.push(`repair plan: ${summarizePlan(plan.body)}`);
  progress(`repair plan: ${summarizePlan(plan.body)}`);
  const applied = await client.send(
    "POST",
    "/admin/v1/state/repair",
    JSON.stringify({ apply: true, reason: "ballast drill christmas-eve" }),
    "application/json",
  );
  if (applied.status !== 200) {
    phase.notes.push(`repair failed: ${applied.status} ${applied.body.slice(0, 300)}`);
    progress(`repair failed: ${applied.status} ${applied.body.slice(0, 300)}`);
    return phase;
  }
  while (performance.now() < deadline) {
    const a = await alarms(client).catch(() => undefined);
    if (a?.verified) {
      phase.repairSeconds = (performance.now() - t0) / 1000;
      progress(
        `repaired after ${phase.repairSeconds.toFixed(1)} s: new journal epoch, verified, writable again`,
      );
      break;
    }
    await sleep(200);
  }
  return phase;
}

function summarizePlan(body: string): string {
  try {
    const p = (
      JSON.parse(body) as {
        plan: {
          damagedRevisions: number[];
          revisionsReplayed: number;
          lines: string[];
          fromCurrent: string[];
        };
      }
    ).plan;
    return `${p.revisionsReplayed} intact revision(s) replayed, ${p.damagedRevisions.length} damaged skipped, ${p.fromCurrent.length} entit(ies) from the current state, ${p.lines.length} change(s) to the current state`;
  } catch {
    return body.slice(0, 300);
  }
}

interface Alarms {
  readonly verified: boolean;
  readonly repairs: number;
  readonly alarms: readonly { kind: string; message: string }[];
}

async function alarms(client: SignedClient): Promise<Alarms> {
  const r = await client.send("GET", "/admin/v1/alarms");
  if (r.status !== 200) throw new Error(`alarms: ${r.status} ${r.body}`);
  const s = (JSON.parse(r.body) as { state: Alarms | null }).state;
  return s ?? { verified: true, repairs: 0, alarms: [] };
}

async function allPresent(
  store: Store,
  rows: readonly { kind: EntityKind; key: string }[],
): Promise<boolean> {
  for (const r of rows) if ((await store.get(r.kind, r.key)) === undefined) return false;
  return true;
}

async function exportState(client: SignedClient): Promise<State> {
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

function withoutDrillTag(state: State): State {
  const lbs = new Map<string, LoadBalancer>();
  for (const [key, lb] of state.entities.loadBalancer)
    lbs.set(key, { ...lb, tags: lb.tags.filter((t) => t.key !== DRILL_TAG) });
  return { revision: state.revision, entities: { ...state.entities, loadBalancer: lbs } };
}

/** The load balancers some agent serves differently from `lbs` (listeners, back ends) now. */
async function misconfiguredNow(store: Store, lbs: readonly LoadBalancer[]): Promise<string[]> {
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
function sendTraffic(t: LbTraffic, ports: readonly number[], rate: number, max: number): () => Promise<void> {
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
function every(ms: number, fn: () => Promise<void>): () => Promise<void> {
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

interface RawSql {
  sql(statement: string, params: readonly unknown[]): Promise<number>;
  param(i: number): string;
  readonly dropGuard: readonly string[];
}

/** The database as the maintenance process had it: plain SQL, guards dropped where they stand. */
function rawSqlOf(store: Store): RawSql {
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
function pick<T>(from: readonly T[], count: number): T[] {
  const out: T[] = [];
  const step = from.length / Math.min(count, from.length);
  for (let i = 0; i < Math.min(count, from.length); i++) {
    const v = from[Math.floor(i * step)];
    if (v !== undefined) out.push(v);
  }
  return out;
}

async function resolveA(dnsPort: number, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1000, tries: 2 });
  r.setServers([`127.0.0.1:${dnsPort}`]);
  return (await r.resolve4(name)).sort();
}

function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]" || host === "::1";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function reportText(r: DrillReport): string {
  const out = [`christmas-eve drill: ${r.ok ? "PASSED" : "FAILED"} (${r.loadBalancers} load balancer(s))`];
  out.push("traffic:");
  for (const t of r.traffic)
    out.push(
      `  ${t.name.padEnd(24)} ${String(t.sent).padStart(6)} sent  ${String(t.failed).padStart(4)} failed  via ${t.nodes.join(", ") || "no node"}${t.errors.length > 0 ? `  (${t.errors[0]})` : ""}`,
    );
  for (const p of r.phases) {
    const s = (v: number | null): string => (v === null ? "not within the timeout" : `${v.toFixed(1)} s`);
    out.push(
      `${p.name}: ${p.damage}`,
      `  time to detect ${s(p.detectSeconds)}, time to repair ${s(p.repairSeconds)} (both from the damage)`,
    );
    for (const n of p.notes) out.push(`  ${n}`);
  }
  out.push(
    `ordinary changes: ${r.changes.ok} accepted, ${r.changes.refusedReadOnly} refused in read-only mode, ${r.changes.failedWhileDamaged} failed while the state was damaged, ${r.changes.failed} failed otherwise`,
    `load balancers misconfigured: ${r.misconfigured.length === 0 ? "none" : r.misconfigured.join(", ")}`,
    `DNS lookups that failed while sampling: ${r.dnsLookupsFailed}`,
    `state before vs after (the drill's own tag left out): ${r.diff.length === 0 ? "no differences" : ""}`,
    ...r.diff.map((l) => `  ${l}`),
  );
  if (r.failures.length > 0) out.push("failures:", ...r.failures.map((f) => `  ${f}`));
  return out.join("\n");
}
