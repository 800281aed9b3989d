/** The `ballast` command. */
import { UsageError } from "./args.js";

const USAGE = `usage: ballast <command> [flags]

commands:
  up [--demo] [--data-dir DIR] [--api-port 9700] [--dns-port 8053]
                      control plane, two agents and the DNS responder, in the foreground
  control [--host ADDR] [--zones Z,…] [--tls-cert F --tls-key F | --agent-tls off]
                      the control plane alone (agent channel on TLS, its own CA in DIR/ca/)
  agent --zone Z --pool CIDR --control URL --token-file F --data-dir DIR [--nofile N]
                      one load-balancer node agent (on the control plane's host): a keeper holding
                      its listening sockets, and a worker
  agent --credentials F --ca CA --pool CIDR [--control https://HOST:9701] --data-dir DIR
                      an agent on another host, with its own key (ballast agents add)
  agent --reload --data-dir DIR
                      replace an agent's worker without refusing a connection
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
  lb list | show NAME [--json]
                      load balancers: listeners, instances and why they fail, nodes
  health NAME [--json]
                      a load balancer's instances: state, reason of the last failed check
  agents add NAME --zone Z [--out FILE] [--control URL]
                      an agent's own key to the agent channel (a credentials file, 0600)
  agents revoke NAME  refuse that agent's key from its next request on
  agents keys         the agents' keys and whether each is active
  alarms [--json]     the last check of the stored state, the changes the guard holds, and the
                      fleet's alarms (failover suspended by its breaker, scaling refused)
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

// Each command's modules load only when it runs: an agent (and its keeper) starts in half the
// time without the control plane's, which matters when a crashed agent is replaced.
const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  up: (a) => import("./up.js").then((m) => m.upCommand(a)),
  control: (a) => import("./control.js").then((m) => m.controlCommand(a)),
  agent: (a) => import("./agent-cmd.js").then((m) => m.agentCommand(a)),
  instances: (a) => import("./instances.js").then((m) => m.instancesCommand(a)),
  subnets: (a) => import("./registry.js").then((m) => m.subnetsCommand(a)),
  limits: (a) => import("./registry.js").then((m) => m.limitsCommand(a)),
  certs: (a) => import("./certs.js").then((m) => m.certsCommand(a)),
  state: (a) => import("./state.js").then((m) => m.stateCommand(a)),
  agents: (a) => import("./agents.js").then((m) => m.agentsCommand(a)),
  lb: (a) => import("./load-balancers.js").then((m) => m.lbCommand(a)),
  health: (a) => import("./load-balancers.js").then((m) => m.healthCommand(a)),
  alarms: (a) => import("./guard.js").then((m) => m.alarmsCommand(a)),
  guard: (a) => import("./guard.js").then((m) => m.guardCommand(a)),
  principals: (a) => import("./access.js").then((m) => m.principalsCommand(a)),
  keys: (a) => import("./access.js").then((m) => m.keysCommand(a)),
  policies: (a) => import("./access.js").then((m) => m.policiesCommand(a)),
  audit: (a) => import("./access.js").then((m) => m.auditCommand(a)),
  drill: (a) => import("./drill.js").then((m) => m.drillCommand(a)),
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
