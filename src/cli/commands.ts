/**
 * The `ballast` commands: each one's description (`src/cli/specs/`) and how to load its
 * implementation. Only the command that runs is loaded, so `ballast --help` or `ballast agents`
 * never pays for the control plane's modules. See src/cli/command.ts to add one.
 */
import type { CommandSpec } from "./command.js";
import { AUDIT, KEYS, POLICIES, PRINCIPALS } from "./specs/access.js";
import { CERTS, INSTANCES, LIMITS, SUBNETS } from "./specs/inventory.js";
import { HEALTH, LB } from "./specs/load-balancers.js";
import { AGENTS, ALARMS, CONTROL_PLANES, GUARD } from "./specs/safety.js";
import { STATE } from "./specs/state.js";
import { AGENT, CONTROL, DRILL, UP } from "./specs/system.js";
import { TICKETS } from "./specs/tickets.js";

export type CommandRun = (argv: string[]) => Promise<void>;

export interface CommandEntry {
  readonly spec: CommandSpec;
  /** The heading the global usage lists it under. */
  readonly group: string;
  readonly load: () => Promise<CommandRun>;
}

const RUN = "run a deployment";
const INVENTORY = "inventories (signed admin API)";
const VIEW = "load balancers as operators see them";
const SAFETY = "state and safety";
const ACCESS = "access";

export const COMMANDS: readonly CommandEntry[] = [
  { spec: UP, group: RUN, load: async () => (await import("./up.js")).upCommand },
  { spec: CONTROL, group: RUN, load: async () => (await import("./control.js")).controlCommand },
  { spec: AGENT, group: RUN, load: async () => (await import("./agent-cmd.js")).agentCommand },
  { spec: INSTANCES, group: INVENTORY, load: async () => (await import("./instances.js")).instancesCommand },
  { spec: SUBNETS, group: INVENTORY, load: async () => (await import("./registry.js")).subnetsCommand },
  { spec: LIMITS, group: INVENTORY, load: async () => (await import("./registry.js")).limitsCommand },
  { spec: CERTS, group: INVENTORY, load: async () => (await import("./certs.js")).certsCommand },
  { spec: LB, group: VIEW, load: async () => (await import("./load-balancers.js")).lbCommand },
  { spec: HEALTH, group: VIEW, load: async () => (await import("./load-balancers.js")).healthCommand },
  { spec: STATE, group: SAFETY, load: async () => (await import("./state.js")).stateCommand },
  { spec: AGENTS, group: SAFETY, load: async () => (await import("./agents.js")).agentsCommand },
  {
    spec: CONTROL_PLANES,
    group: SAFETY,
    load: async () => (await import("./control-planes.js")).controlPlanesCommand,
  },
  { spec: ALARMS, group: SAFETY, load: async () => (await import("./guard.js")).alarmsCommand },
  { spec: GUARD, group: SAFETY, load: async () => (await import("./guard.js")).guardCommand },
  { spec: TICKETS, group: SAFETY, load: async () => (await import("./tickets.js")).ticketsCommand },
  { spec: DRILL, group: SAFETY, load: async () => (await import("./drill.js")).drillCommand },
  { spec: PRINCIPALS, group: ACCESS, load: async () => (await import("./access.js")).principalsCommand },
  { spec: KEYS, group: ACCESS, load: async () => (await import("./access.js")).keysCommand },
  { spec: POLICIES, group: ACCESS, load: async () => (await import("./access.js")).policiesCommand },
  { spec: AUDIT, group: ACCESS, load: async () => (await import("./access.js")).auditCommand },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.spec.name === name);
}

/** `ballast`, `ballast help`: every command, one line each, by group. */
export function usageText(): string {
  const lines = ["usage: ballast <command> [<verb>] [flags]", ""];
  const w = Math.max(...COMMANDS.map((c) => c.spec.name.length));
  const groups = [...new Set(COMMANDS.map((c) => c.group))];
  for (const g of groups) {
    lines.push(`${g}:`);
    for (const c of COMMANDS.filter((x) => x.group === g)) {
      const verbs = c.spec.verbs ? `  [${c.spec.verbs.map((v) => v.name).join("|")}]` : "";
      lines.push(`  ${c.spec.name.padEnd(w)}  ${firstSentence(c.spec.summary)}${verbs}`);
    }
    lines.push("");
  }
  lines.push(
    "'ballast up' takes --data-dir DIR, --store sqlite|postgres://…, --agents ZONE=CIDR,… and its ports.",
    "Commands that call the API take --endpoint URL (default http://127.0.0.1:9700), --region and",
    "--data-dir (where bootstrap-credentials is), and read commands take --json.",
    "'ballast <command> --help' (or 'ballast help <command> [verb]') lists a command's verbs and flags.",
    "Exit codes: 0 ok, 1 failure, 2 usage. BALLAST_DEBUG=1 adds stack traces to errors.",
  );
  return lines.join("\n");
}

/** The summary up to its first ": ", ". ", "; " or " (": one line in the list. */
function firstSentence(s: string): string {
  const cuts = [": ", ". ", "; ", " ("].map((m) => s.indexOf(m)).filter((n) => n > 0);
  return cuts.length > 0 ? s.slice(0, Math.min(...cuts)) : s.replace(/\.$/, "");
}
