/** The christmas-eve drill's two kinds of damage, each waited on until it is detected and repaired. */
import { ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import type { State } from "../../store/ops/snapshot.js";
import type { Store } from "../../store/store.js";
import type { DrillOptions } from "../drill.js";
import type { SignedClient } from "../signed-client.js";
import { alarms, allPresent, pick, type RawSql, sleep } from "./observe.js";
import type { Phase } from "./report.js";

/** Phase 1: a share of the `current` rows deleted; the controller repairs them from the journal. */
export async function currentStatePhase(
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
export async function journalPhase(
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

export function summarizePlan(body: string): string {
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
