/** What `ballast state` prints: each answer of the admin API in words and tables. */
import type { Instance, LoadBalancer } from "../model/types.js";
import { listenerText } from "../store/ops/diff-text.js";
import type { JournalRepairPlan } from "../store/ops/repair-journal.js";
import type { VerifyReport } from "../store/ops/verify.js";
import { table } from "./output.js";

export interface HistoryEntry {
  readonly number: number;
  readonly time: string;
  readonly principal: string;
  readonly sourceIp: string;
  readonly action: string;
  readonly ticket?: string;
  readonly change?: string;
}

export interface ChangeResult {
  readonly revision: HistoryEntry | null;
  readonly lines: readonly string[];
}

export interface RepairAnswer {
  readonly plan: JournalRepairPlan;
  readonly revision?: HistoryEntry;
  readonly evidence?: readonly string[];
  readonly state?: { verified: boolean; readOnly: unknown };
}

/** The plan (and what was done): exit code 3 for a plan not applied, so scripts notice. */
export function repairText(r: RepairAnswer): string {
  const p = r.plan;
  const out: string[] = [];
  out.push(
    p.journalVerified
      ? `the journal's own rows verify up to revision ${p.head}: nothing to repair`
      : `the journal is damaged (head ${p.head}):`,
  );
  for (const d of p.damage.slice(0, 10)) out.push(`  ${d}`);
  out.push(
    p.backup
      ? `base: backup ${p.backup.file} (revision ${p.backup.revision}, taken ${p.backup.time})`
      : "base: no usable backup (the empty state)",
  );
  for (const b of p.backupsRefused) out.push(`  passed over: ${b}`);
  out.push(
    `then ${p.revisionsReplayed} intact revision(s) replayed; ${p.damagedRevisions.length} damaged or missing skipped${p.damagedRevisions.length > 0 ? ` (${p.damagedRevisions.slice(0, 20).join(", ")}${p.damagedRevisions.length > 20 ? ", …" : ""})` : ""}`,
  );
  for (const c of p.fromCurrent) out.push(`  kept from the current state: ${c}`);
  for (const a of p.fromAgents)
    out.push(
      `  rebuilt from agent reports: ${a.name} (zones ${a.zones.join(", ")}; listeners ${a.listeners.join(", ")}; instances ${a.instances.join(", ") || "none"}); lost: ${a.lost.join("; ")}`,
    );
  for (const d of p.agentDifferences) out.push(`  agents differ (kept as they are): ${d}`);
  out.push(`changes to the current state (${p.lines.length}):`, ...indent(p.lines, "none"));
  if (r.revision !== undefined) {
    out.push(
      `applied: new journal epoch from revision ${r.revision.number} (${r.revision.action} by ${r.revision.principal} at ${r.revision.time}); the old journal is kept in ${(r.evidence ?? []).join(", ")}`,
      `state now: ${r.state?.verified ? "verified" : "NOT verified"}${r.state?.readOnly ? " (still read-only)" : "; changes are accepted again"}`,
    );
  } else if (!p.journalVerified) {
    out.push(
      `plan only: apply it as revision ${p.epochRevision} with: ballast state repair --apply --reason TEXT`,
    );
  }
  return out.join("\n");
}

export interface Compaction {
  readonly through: number;
  readonly time: string;
  readonly principal: string;
  readonly sourceIp: string;
  readonly ticket?: string;
  readonly versionsRemoved: number;
}

export interface Backup {
  readonly file: string;
  readonly revision: number;
  readonly time: string;
}

export interface ShowResult {
  readonly revision: number;
  readonly time?: string;
  readonly loadBalancers: LoadBalancer[];
  readonly instances: Instance[];
  readonly credentials: { accessKeyId: string; principal: string; role?: string; status?: string }[];
}

export function historyText(
  revisions: readonly HistoryEntry[],
  next: number | undefined,
  byLb: boolean,
): string {
  if (revisions.length === 0) return "no revisions";
  const head = ["REV", "TIME", "PRINCIPAL", "ACTION", ...(byLb ? ["CHANGE"] : []), "SOURCE", "TICKET"];
  const rows = revisions.map((r) => [
    String(r.number),
    r.time,
    r.principal,
    r.action,
    ...(byLb ? [r.change ?? ""] : []),
    r.sourceIp || "-",
    r.ticket ?? "-",
  ]);
  const more = next === undefined ? "" : `\n(older revisions: --before ${next})`;
  return `${table(head, rows)}${more}`;
}

export function showText(r: ShowResult): string {
  const out = [`state at revision ${r.revision}${r.time ? ` (${r.time})` : ""}`];
  out.push(`load balancers (${r.loadBalancers.length}):`);
  for (const lb of r.loadBalancers) {
    out.push(`  ${lb.name}  ${lb.dnsName}`);
    out.push(`    listeners  ${lb.listeners.map(listenerText).join(", ") || "none"}`);
    out.push(`    zones      ${lb.availabilityZones.join(", ") || "none"}`);
    out.push(`    instances  ${lb.instances.join(", ") || "none"}`);
  }
  out.push(`instances (${r.instances.length}):`);
  for (const i of r.instances) out.push(`  ${i.instanceId}  ${i.address}  ${i.zone}`);
  out.push(`credentials (${r.credentials.length}):`);
  for (const c of r.credentials)
    out.push(
      `  ${c.accessKeyId}  ${c.principal}  ${c.role ?? "-"}${c.status === "Inactive" ? "  inactive" : ""}`,
    );
  return out.join("\n");
}

export function restoreText(r: ChangeResult & { target: number; warnings: string[] }): string {
  const text = changeText(
    r,
    `restored revision ${r.target}`,
    `the state already equals revision ${r.target}; nothing was written`,
  );
  const warnings = r.warnings.map((w) => `warning: ${w}`);
  const undo = r.revision ? [`undo with: ballast state restore --to ${r.revision.number - 1}`] : [];
  return [text, ...warnings, ...undo].join("\n");
}

export function changeText(r: ChangeResult, done: string, unchanged: string): string {
  if (!r.revision) return unchanged;
  const rev = r.revision;
  return [
    `${done} as revision ${rev.number} (${rev.action} by ${rev.principal} at ${rev.time}):`,
    ...indent(r.lines, "no changes"),
  ].join("\n");
}

export function verifyText(r: VerifyReport): string {
  if (r.ok) {
    const compacted =
      r.compactedThrough > 0
        ? ` (compacted through revision ${r.compactedThrough}: ${r.linkCheckedOnly} revisions link-checked only)`
        : "";
    const epoch = r.epoch
      ? ` (journal epoch from revision ${r.epoch.revision}, started by ${r.epoch.principal} at ${r.epoch.time}: ${r.epoch.reason})`
      : "";
    return `journal verified: ${r.revisionsChecked} revisions and ${r.entitiesChecked} entities consistent up to revision ${r.head}${compacted}${epoch}`;
  }
  const first = r.firstDivergence;
  const out = [
    `journal does NOT verify: first divergence at revision ${first?.revision} (${first?.type}): ${first?.message}`,
  ];
  const more = r.divergences.length - 1;
  if (more > 0) out.push(`${more}${r.truncated ? "+" : ""} more:`);
  for (const d of r.divergences.slice(1, 20)) out.push(`  revision ${d.revision} ${d.type}: ${d.message}`);
  return out.join("\n");
}

export function indent(lines: readonly string[], empty: string): string[] {
  return lines.length === 0 ? [`  ${empty}`] : lines.map((l) => `  ${l}`);
}

/** The one table layout of every `ballast` command. */
export { table };
