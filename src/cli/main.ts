/** The `ballast` command. */
import { auditCommand, keysCommand, policiesCommand, principalsCommand } from "./access.js";
import { agentCommand } from "./agent-cmd.js";
import { agentsCommand } from "./agents.js";
import { UsageError } from "./args.js";
import { certsCommand } from "./certs.js";
import { controlCommand } from "./control.js";
import { controlPlanesCommand } from "./control-planes.js";
import { drillCommand } from "./drill.js";
import { alarmsCommand, guardCommand } from "./guard.js";
import { instancesCommand } from "./instances.js";
import { limitsCommand, subnetsCommand } from "./registry.js";
import { stateCommand } from "./state.js";
import { upCommand } from "./up.js";

const USAGE = `usage: ballast <command> [flags]

commands:
  up [--demo] [--data-dir DIR] [--api-port 9700] [--dns-port 8053]
                      control plane, two agents and the DNS responder, in the foreground
  control             the control plane alone
  agent --zone Z --pool CIDR --control URL --token-file F --data-dir DIR
                      one load-balancer node agent
  instances add ID --address ADDR --zone ZONE | remove ID | list
                      the instance inventory (signed admin API)
  subnets add ID --zone Z --vpc VPC [--cidr C] | remove ID | list
                      the subnet registry (signed admin API)
  limits list | set NAME MAX | reset NAME
                      the account limits DescribeAccountLimits reports and the API enforces
  certs upload NAME --cert FILE --key FILE [--chain FILE] | list | delete NAME
                      server certificates for HTTPS/SSL listeners (signed admin API)
  state history|show|diff|restore|verify|export|import|backups [flags]
                      the state journal: read, diff, restore, verify, back up (signed admin API)
  agents [--json]     the agents: zone, connected or stale, revision, refused documents
  control-planes [--json]
                      the control-plane replicas and which one is the active controller
  alarms [--json]     the last check of the stored state and the changes the guard holds
  guard holds | release ZONE | discard ZONE
                      decide on a change the blast-radius guard holds (administrators)
  principals list | show NAME | create NAME [--policy P]... | delete NAME
                      principals (IAM users) and the policies that govern them
  keys list [--principal P] | create PRINCIPAL | rotate ID | deactivate ID | activate ID | delete ID
                      access keys (the secret is printed once, on create and rotate)
  policies list | show NAME | put NAME --document FILE | delete NAME | attach|detach NAME --principal P
                      IAM-style policy documents: managed (listed, fixed) and customer
  audit [--principal P] [--action A] [--denied] [--since T] [--limit N] [--json]
                      the audit log of every call and denial
  drill christmas-eve [--store S] [--dns-port P] [--share 30] [--journal]
                      rehearse the 2012 outage against a running deployment (bypasses the API)`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  up: upCommand,
  control: controlCommand,
  agent: agentCommand,
  instances: instancesCommand,
  subnets: subnetsCommand,
  limits: limitsCommand,
  certs: certsCommand,
  state: stateCommand,
  agents: agentsCommand,
  "control-planes": controlPlanesCommand,
  alarms: alarmsCommand,
  guard: guardCommand,
  principals: principalsCommand,
  keys: keysCommand,
  policies: policiesCommand,
  audit: auditCommand,
  drill: drillCommand,
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(USAGE);
    process.exitCode = name === undefined || name === "help" || name === "--help" ? 0 : 2;
    return;
  }
  await command(rest);
}

main().catch((e: unknown) => {
  if (e instanceof UsageError || (e instanceof TypeError && "code" in e)) {
    console.error(`ballast: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error("ballast:", e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
