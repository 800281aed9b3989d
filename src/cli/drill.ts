import { resolve as resolvePath } from "node:path";
import type { LoadBalancer } from "../model/types.js";
import { openStore } from "../store/open.js";
import { diffStates } from "../store/ops/diff.js";
import { diffLines } from "../store/ops/diff-text.js";
import { UsageError } from "./args.js";
import { CHANGE_FLAGS_NOTE, changeAuthority } from "./change-flags.js";
import { credentials } from "./client.js";
import { parseCommand } from "./command.js";
import {
  every,
  exportState,
  isLoopback,
  misconfiguredNow,
  rawSqlOf,
  resolveA,
  sendTraffic,
  sleep,
  withoutDrillTag,
} from "./drill/observe.js";
import { currentStatePhase, journalPhase } from "./drill/phases.js";
import { DRILL_TAG, type DrillReport, type LbTraffic, type Phase, reportText } from "./drill/report.js";
import { type ChangeAuthority, SignedClient } from "./signed-client.js";
import { DRILL } from "./specs/system.js";

export type { DrillReport, LbTraffic, Phase };
export { DRILL_TAG, reportText };

/** The tag the drill's own ordinary changes set; left out of the before/after diff. */

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
  /** The change ticket or break-glass reason the repair runs under (the two-person rule). */
  readonly authority?: ChangeAuthority;
}

export async function drillCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(DRILL, argv);
  if (positionals[0] !== "christmas-eve" || positionals.length !== 1)
    throw new UsageError("the only drill is christmas-eve: ballast drill christmas-eve");
  const authority = changeAuthority(values);
  if (values.journal && authority.ticket === undefined && authority.breakGlass === undefined)
    throw new UsageError(
      `--journal ends with 'state repair --apply', which needs ${CHANGE_FLAGS_NOTE} (ballast:RepairState)`,
    );
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
      authority,
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
  const client = new SignedClient(
    opts.endpoint,
    await credentials(opts.dataDir),
    opts.region,
    opts.authority,
  );
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
