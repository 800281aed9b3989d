/**
 * The christmas-eve drill's report: what it measured, and its text.
 */

/** The tag the drill's ordinary changes set (left out of the before/after diff). */
export const DRILL_TAG = "ballast-drill";

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
