/**
 * The control plane's numbers, in the Prometheus text format, served at GET /metrics on the agent
 * channel: how far the journal has moved, and how far each agent is behind it — the first alarm
 * of a control plane whose state went missing is an agent reporting what it cannot explain.
 */
import type { AgentStatus } from "../model/agent-protocol.js";
import type { Store } from "../store/store.js";

/** Numbers other parts of the process keep (counters, the controller lock's gauges), rendered as they are. */
export interface MetricSource {
  render(): string;
}

/** Statuses older than this are reported as a stale agent, not as a live one. */
export const STATUS_FRESH_MS = 30_000;

/** What the controller's own workflows add to the numbers. */
export interface ControllerGauges {
  /** 1 when the last state check passed, 0 when it raised an alarm. */
  readonly stateVerified: boolean;
  /** Automatic repairs of the current state since start. */
  readonly stateRepairs: number;
  /** Held changes, by zone, with the load balancers each would remove. */
  readonly guardHolds: readonly { readonly zone: string; readonly removedLoadBalancers: number }[];
}

export async function renderMetrics(
  store: Store,
  controller?: ControllerGauges,
  now = Date.now(),
  /** Counters other parts of the process keep (the API's unauthenticated requests), rendered as they are. */
  counters: readonly MetricSource[] = [],
): Promise<string> {
  const [head, statuses, lbs] = await Promise.all([
    store.head(),
    store.agentStatuses(),
    store.list("loadBalancer"),
  ]);
  const out: string[] = [];
  const gauge = (name: string, help: string, rows: readonly [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
  };
  const label = (s: AgentStatus): string => `{agent="${esc(s.agentId)}",zone="${esc(s.zone)}"}`;
  gauge("ballast_journal_head_revision", "Newest revision of the state journal.", [["", head]]);
  gauge("ballast_load_balancers", "Load balancers in the current state.", [["", lbs.length]]);
  gauge(
    "ballast_agent_up",
    "1 when the agent reported within the last 30 seconds.",
    statuses.map((s) => [label(s), now - Date.parse(s.time) <= STATUS_FRESH_MS ? 1 : 0]),
  );
  gauge(
    "ballast_agent_config_revision",
    "Journal revision of the configuration the agent runs.",
    statuses.map((s) => [label(s), s.configRevision]),
  );
  gauge(
    "ballast_agent_config_lag_revisions",
    "Journal revisions the agent's configuration is behind the head (negative: ahead of the journal).",
    statuses.map((s) => [label(s), head - s.configRevision]),
  );
  gauge(
    "ballast_agent_unexplained",
    "Load balancers, listeners and back ends an agent keeps that the control plane neither states nor removed.",
    statuses.map((s) => [label(s), s.unexplained.length]),
  );
  gauge(
    "ballast_agent_instances_in_service",
    "Back ends the agent's health checks see InService, per agent.",
    statuses.map((s) => [label(s), s.health.filter((h) => h.state === "InService").length]),
  );
  gauge(
    "ballast_agent_instances_out_of_service",
    "Back ends the agent's health checks see OutOfService, per agent.",
    statuses.map((s) => [label(s), s.health.filter((h) => h.state === "OutOfService").length]),
  );
  if (controller !== undefined) {
    gauge(
      "ballast_state_verified",
      "1 when the last check of the stored state passed (hash chain, current state, agents).",
      [["", controller.stateVerified ? 1 : 0]],
    );
    out.push(
      "# HELP ballast_state_repairs_total Automatic repairs of the current state from the journal since start.",
      "# TYPE ballast_state_repairs_total counter",
      `ballast_state_repairs_total ${controller.stateRepairs}`,
    );
    gauge(
      "ballast_guard_held_load_balancer_removals",
      "Load balancers a change held by the blast-radius guard would remove, per zone (a hold is an alarm).",
      controller.guardHolds.map((h) => [`{zone="${esc(h.zone)}"}`, h.removedLoadBalancers]),
    );
  }
  return `${out.join("\n")}\n${counters.map((c) => c.render()).join("")}`;
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
