/**
 * The control plane's numbers, in the Prometheus text format: how far the journal has moved, how
 * far each agent is behind it, whether the stored state verified, which alarms are raised, what
 * the blast-radius guard holds — the first alarm of a control plane whose state went missing is
 * an agent reporting what it cannot explain. Served unauthenticated at GET /metrics (on the API
 * port, or on --metrics-listen) and on the agent channel.
 *
 * Series per agent are bounded by the agents that ever reported to this store (at most
 * MAX_AGENT_SERIES); every other label takes values from fixed sets.
 */
import type { AgentStatus } from "../model/agent-protocol.js";
import type { StateAlarm } from "../model/guard.js";
import type { Store } from "../store/store.js";
import { renderProcessMetrics } from "../util/process-metrics.js";
import { Exposition, labelText, type MetricFamilies } from "../util/prometheus.js";

/** Statuses older than this are reported as a stale agent, not as a live one. */
export const STATUS_FRESH_MS = 30_000;
/** At most this many agents get per-agent series (the most recently reporting ones). */
export const MAX_AGENT_SERIES = 1000;

/** Every alarm kind, so each has a series (0 when it is not raised). */
export const ALARM_KINDS: readonly (StateAlarm["kind"] | "guard-hold" | "read-only")[] = [
  "journal-damaged",
  "agents-ahead-of-journal",
  "agents-serve-unknown",
  "guard-hold",
  "read-only",
];

/** What the controller's own workflows add to the numbers. */
export interface ControllerGauges {
  /** 1 when the last state check passed, 0 when it raised an alarm. */
  readonly stateVerified: boolean;
  /** Automatic repairs of the current state since start. */
  readonly stateRepairs: number;
  /** Held changes, by zone, with the load balancers each would remove. */
  readonly guardHolds: readonly { readonly zone: string; readonly removedLoadBalancers: number }[];
  /** The alarms of the last state check. */
  readonly alarms?: readonly StateAlarm[];
  /** True while the journal is damaged and the API refuses changes. */
  readonly readOnly?: boolean;
  /** When the last state check ran (ISO 8601); absent before the first. */
  readonly checkedAt?: string;
  /** State checks that walked the whole journal, and those that resumed from the last that passed. */
  readonly walks?: { readonly whole: number; readonly resumed: number };
}

export async function renderMetrics(
  store: Store,
  controller?: ControllerGauges,
  now = Date.now(),
  /** Families other parts of the process keep (the API's counters), rendered as they are. */
  families: readonly MetricFamilies[] = [],
): Promise<string> {
  const exp = new Exposition();
  let read: JournalAndAgents | undefined;
  try {
    const [head, statuses, lbs] = await Promise.all([
      store.head(),
      store.agentStatuses(),
      store.count("loadBalancer"),
    ]);
    read = { head, statuses, lbs, waitingSince: await waitingSince(store, head, statuses) };
  } catch {
    // An unreadable store is itself the number to report; the rest of the scrape still answers.
    read = undefined;
  }
  exp
    .family("ballast_store_up", "gauge", "1 when the last scrape could read the store, 0 when it could not.")
    .sample("ballast_store_up", "", read === undefined ? 0 : 1);
  if (read !== undefined) renderJournalAndAgents(exp, read, now);
  if (controller !== undefined) renderController(exp, controller);
  for (const f of families) f.renderInto(exp);
  await renderProcessMetrics(exp);
  return exp.text();
}

interface JournalAndAgents {
  readonly head: number;
  readonly statuses: readonly AgentStatus[];
  readonly lbs: number;
  /** For each revision an agent runs below the head: when the next revision was committed (ms). */
  readonly waitingSince: ReadonlyMap<number, number>;
}

/**
 * When each lagging agent's wait began: the commit time of the first revision it does not run.
 * One read per distinct revision agents run below the head (at most one per agent).
 */
async function waitingSince(
  store: Store,
  head: number,
  statuses: readonly AgentStatus[],
): Promise<Map<number, number>> {
  const behind = new Set<number>();
  for (const s of statuses)
    if (s.configRevision < head && s.configRevision >= 0) behind.add(s.configRevision);
  const out = new Map<number, number>();
  await Promise.all(
    [...behind].map(async (r) => {
      const next = await store.revision(r + 1);
      if (next !== undefined) out.set(r, Date.parse(next.time));
    }),
  );
  return out;
}

function renderJournalAndAgents(exp: Exposition, read: JournalAndAgents, now: number): void {
  const { head } = read;
  exp
    .family(
      "ballast_journal_head_revision",
      "gauge",
      "Newest revision of the state journal (the revision published).",
    )
    .sample("ballast_journal_head_revision", "", head)
    .family("ballast_load_balancers", "gauge", "Load balancers in the current state.")
    .sample("ballast_load_balancers", "", read.lbs);
  const fresh = (s: AgentStatus): boolean => now - Date.parse(s.time) <= STATUS_FRESH_MS;
  const statuses = [...read.statuses]
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
    .slice(0, MAX_AGENT_SERIES);
  statuses.sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  let connected = 0;
  for (const s of read.statuses) if (fresh(s)) connected++;
  exp
    .family(
      "ballast_agents",
      "gauge",
      `Agents by state: connected (reported within ${STATUS_FRESH_MS / 1000} s) or stale.`,
    )
    .sample("ballast_agents", { state: "connected" }, connected)
    .sample("ballast_agents", { state: "stale" }, read.statuses.length - connected);
  const labels = statuses.map((s) => labelText({ agent: s.agentId, zone: s.zone }));
  const perAgent = (name: string, type: "gauge", help: string, value: (s: AgentStatus) => number): void => {
    exp.family(name, type, help);
    for (const [i, s] of statuses.entries()) exp.sample(name, labels[i] as string, value(s));
  };
  perAgent(
    "ballast_agent_up",
    "gauge",
    `1 when the agent reported within the last ${STATUS_FRESH_MS / 1000} seconds.`,
    (s) => (fresh(s) ? 1 : 0),
  );
  perAgent(
    "ballast_agent_last_report_age_seconds",
    "gauge",
    "Seconds since the agent's last status report.",
    (s) => Math.max(0, (now - Date.parse(s.time)) / 1000),
  );
  perAgent(
    "ballast_agent_config_revision",
    "gauge",
    "Journal revision of the configuration the agent runs.",
    (s) => s.configRevision,
  );
  perAgent(
    "ballast_agent_config_lag_revisions",
    "gauge",
    "Propagation lag: revisions the agent's configuration is behind the journal head (negative: ahead of the journal).",
    (s) => head - s.configRevision,
  );
  perAgent(
    "ballast_agent_config_lag_seconds",
    "gauge",
    "Propagation lag in time: seconds since the first revision the agent does not run was committed (0 when it runs the head).",
    (s) => {
      const since = read.waitingSince.get(s.configRevision);
      return since === undefined ? 0 : Math.max(0, (now - since) / 1000);
    },
  );
  perAgent(
    "ballast_agent_unexplained",
    "gauge",
    "Load balancers, listeners and back ends an agent keeps that the control plane neither states nor removed.",
    (s) => s.unexplained.length,
  );
  perAgent(
    "ballast_agent_instances_in_service",
    "gauge",
    "Back ends the agent's health checks see InService, per agent.",
    (s) => s.health.filter((h) => h.state === "InService").length,
  );
  perAgent(
    "ballast_agent_instances_out_of_service",
    "gauge",
    "Back ends the agent's health checks see OutOfService, per agent.",
    (s) => s.health.filter((h) => h.state === "OutOfService").length,
  );
  perAgent(
    "ballast_agent_config_refused",
    "gauge",
    "1 when the agent refused the last configuration document it was sent (its own guard, or a malformed document).",
    (s) => (s.refused === undefined ? 0 : 1),
  );
}

function renderController(exp: Exposition, c: ControllerGauges): void {
  exp
    .family(
      "ballast_state_verified",
      "gauge",
      "1 when the last check of the stored state passed (hash chain, current state, agents).",
    )
    .sample("ballast_state_verified", "", c.stateVerified ? 1 : 0)
    .family("ballast_state_read_only", "gauge", "1 while the journal is damaged and the API refuses changes.")
    .sample("ballast_state_read_only", "", c.readOnly === true ? 1 : 0);
  if (c.checkedAt !== undefined)
    exp
      .family(
        "ballast_state_last_check_timestamp_seconds",
        "gauge",
        "When the stored state was last checked (Unix time).",
      )
      .sample("ballast_state_last_check_timestamp_seconds", "", Date.parse(c.checkedAt) / 1000);
  exp
    .family(
      "ballast_state_repairs_total",
      "counter",
      "Automatic repairs of the current state from the journal since start.",
    )
    .sample("ballast_state_repairs_total", "", c.stateRepairs);
  if (c.walks !== undefined)
    exp
      .family(
        "ballast_state_checks_total",
        "counter",
        "State checks by walk: the whole journal, or resumed from the last check that passed (only the revisions after it).",
      )
      .sample("ballast_state_checks_total", { walk: "whole" }, c.walks.whole)
      .sample("ballast_state_checks_total", { walk: "resumed" }, c.walks.resumed);
  const raised = new Map<string, number>(ALARM_KINDS.map((k) => [k, 0]));
  for (const a of c.alarms ?? []) raised.set(a.kind, (raised.get(a.kind) ?? 0) + 1);
  raised.set("guard-hold", c.guardHolds.length);
  raised.set("read-only", c.readOnly === true ? 1 : 0);
  exp.family(
    "ballast_alarms_active",
    "gauge",
    "Alarms raised now, by kind (a state check's alarms, changes held by the guard, read-only mode).",
  );
  for (const [kind, n] of raised) exp.sample("ballast_alarms_active", { alarm: kind }, n);
  exp
    .family(
      "ballast_guard_holds",
      "gauge",
      "Changes the blast-radius guard holds now, waiting for an approved release.",
    )
    .sample("ballast_guard_holds", "", c.guardHolds.length)
    .family(
      "ballast_guard_held_load_balancer_removals",
      "gauge",
      "Load balancers a change held by the blast-radius guard would remove, per zone (a hold is an alarm).",
    );
  for (const h of c.guardHolds)
    exp.sample("ballast_guard_held_load_balancer_removals", { zone: h.zone }, h.removedLoadBalancers);
}
