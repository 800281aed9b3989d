/** `ballast up|control|agent|drill`: the processes of a deployment, and the outage rehearsal. */

import { CHANGE_FLAGS } from "../change-flags.js";
import { defineCommand } from "../command.js";
import { FLEET_FLAGS } from "../fleet-flags.js";
import { CLIENT_FLAGS } from "./common.js";

/** The flags `ballast up` and `ballast control` share. */
export const CONTROL_PLANE_FLAGS = {
  "data-dir": {
    type: "string",
    default: "./data",
    arg: "DIR",
    help: "the store, secret key, bootstrap credentials, backups and logs (created 0700)",
  },
  store: {
    type: "string",
    default: "sqlite",
    arg: "STORE",
    help: "sqlite (in the data directory), sqlite:/path, or a postgres:// URL",
  },
  "api-port": {
    type: "string",
    arg: "PORT",
    defaultText: "9700",
    help: "the AWS ELB API and admin API (0: any free port)",
  },
  "agent-port": {
    type: "string",
    arg: "PORT",
    defaultText: "9701",
    help: "the agent channel (0: any free port)",
  },
  "dns-port": {
    type: "string",
    arg: "PORT",
    defaultText: "8053",
    help: "the DNS responder, UDP and TCP (0: any free port)",
  },
  region: { type: "string", default: "us-east-1", arg: "REGION", help: "the region of the agents' zones" },
  regions: {
    type: "string",
    arg: "R1,R2",
    defaultText: "every region",
    help: "the only regions the API serves",
  },
  "dns-domain": {
    type: "string",
    default: "ballast.internal",
    arg: "DOMAIN",
    help: "load balancers' DNS names end in elb.DOMAIN",
  },
  "backup-interval": {
    type: "string",
    arg: "SECONDS",
    defaultText: "3600",
    help: "time between scheduled backups",
  },
  "backup-keep": { type: "string", arg: "N", defaultText: "48", help: "how many scheduled backups to keep" },
  "retention-days": {
    type: "string",
    arg: "DAYS",
    defaultText: "90",
    help: "days of history a compaction never removes",
  },
  "bulk-threshold": {
    type: "string",
    arg: "N",
    defaultText: "10",
    help: "more load balancers or instances removed by one request, or by one principal in a minute, need a change ticket",
  },
  "metrics-listen": {
    type: "string",
    arg: "ADDR:PORT",
    defaultText: "the API port",
    help: "serve /metrics on an address of its own instead of the API port (/healthz, /readyz stay on both)",
  },
  ...FLEET_FLAGS,
} as const;

export const DEFAULT_AGENTS = "us-east-1a=127.0.1.0/24,us-east-1b=127.0.2.0/24";

export const UP = defineCommand({
  name: "up",
  summary: "A whole system in the foreground: control plane, DNS responder and one agent process per zone.",
  details: ["Every port is checked before anything is created; Ctrl-C stops every process it started."],
  flags: {
    ...CONTROL_PLANE_FLAGS,
    agents: {
      type: "string",
      default: DEFAULT_AGENTS,
      arg: "ZONE=CIDR,…",
      help: "one agent per zone, handing its nodes addresses from CIDR",
    },
    demo: { type: "boolean", default: false, help: "also start three back ends and a load balancer to curl" },
    "demo-port": {
      type: "string",
      arg: "PORT",
      defaultText: "80 as root, else 8000",
      help: "the demo load balancer's port",
    },
    "agent-metrics-port-base": {
      type: "string",
      arg: "PORT",
      defaultText: "a free port each, listed in DATA-DIR/prometheus-targets.json",
      help: "agent i serves GET /metrics on 127.0.0.1:PORT+i",
    },
  },
});

export const CONTROL = defineCommand({
  name: "control",
  summary: "The control plane alone, for hosts whose agents run elsewhere.",
  flags: {
    ...CONTROL_PLANE_FLAGS,
    host: {
      type: "string",
      default: "127.0.0.1",
      arg: "ADDR",
      help: "the address the API, agent channel and DNS listen on",
    },
    zones: {
      type: "string",
      default: "us-east-1a,us-east-1b",
      arg: "Z1,Z2",
      help: "the zones agents may serve",
    },
    "agent-tls": {
      type: "string",
      arg: "on|off",
      defaultText: "on",
      help: "serve the agent channel over TLS (its own CA in DATA-DIR/ca unless --tls-cert); off: plain HTTP, one host only",
    },
    "tls-cert": {
      type: "string",
      arg: "FILE",
      help: "the agent channel's certificate (PEM), instead of its own CA's",
    },
    "tls-key": { type: "string", arg: "FILE", help: "the key of --tls-cert (PEM)" },
  },
});

export const AGENT = defineCommand({
  name: "agent",
  summary:
    "One load-balancer node agent: a keeper process holding its listening sockets and a worker that serves, so a restart, an upgrade or a crash refuses no connection; it serves its last accepted configuration when the control plane is away.",
  flags: {
    zone: {
      type: "string",
      arg: "ZONE",
      defaultText: "the key's zone",
      help: "the zone it serves (required with --token-file)",
    },
    pool: { type: "string", arg: "CIDR", help: "the addresses it hands its nodes (required)" },
    control: {
      type: "string",
      arg: "URL[,URL…]",
      defaultText: "the credentials file's",
      help: "the control plane's agent channel; several: failover",
    },
    credentials: {
      type: "string",
      arg: "FILE",
      help: "the agent's own key (from ballast agents add): its name, zone and secret",
    },
    ca: { type: "string", arg: "FILE", help: "the CA that signed the agent channel's certificate (PEM)" },
    "token-file": {
      type: "string",
      arg: "FILE",
      help: "instead of --credentials, on one host: the shared token (the control plane's DATA-DIR/agent-token)",
    },
    "data-dir": {
      type: "string",
      arg: "DIR",
      help: "its last-known-good configuration and pid file (required)",
    },
    id: { type: "string", arg: "ID", defaultText: "agent-ZONE", help: "its name in reports" },
    "metrics-listen": {
      type: "string",
      default: "127.0.0.1:0",
      arg: "ADDR:PORT",
      help: "serve /metrics, /healthz and /readyz here (port 0: a free one, written to DATA-DIR/metrics-address); off: none",
    },
    "metrics-port": {
      type: "string",
      arg: "PORT",
      help: "short for --metrics-listen 127.0.0.1:PORT",
    },
    region: { type: "string", arg: "REGION", defaultText: "the zone's region", help: "the region it serves" },
    "max-connections": {
      type: "string",
      arg: "N",
      defaultText: "from the open-file limit",
      help: "client connections across all nodes",
    },
    "max-node-connections": {
      type: "string",
      arg: "N",
      defaultText: "from the open-file limit",
      help: "client connections of one node",
    },
    dns: {
      type: "string",
      arg: "ADDR:PORT",
      help: "answer DNS for its load balancers here (off without it)",
    },
    "dns-domain": {
      type: "string",
      default: "ballast.internal",
      arg: "DOMAIN",
      help: "names end in elb.DOMAIN",
    },
    nofile: {
      type: "string",
      arg: "N",
      defaultText: "the hard limit",
      help: "raise the open-file limit to N (the hard limit too, as root with CAP_SYS_RESOURCE)",
    },
    "drain-timeout": {
      type: "string",
      arg: "SECONDS",
      defaultText: "30",
      help: "how long a replaced worker finishes its open connections after a reload",
    },
    reload: {
      type: "boolean",
      default: false,
      help: "replace the running agent's worker (--data-dir) without refusing a connection, then exit",
    },
    upgrade: {
      type: "boolean",
      default: false,
      help: "replace the running agent's keeper and worker (--data-dir), e.g. after installing a new release: the keeper hands its sockets to a new one, none is closed; then exit",
    },
    "single-process": {
      type: "boolean",
      default: false,
      help: "run the agent in this process alone, without a keeper holding its sockets",
    },
    worker: { type: "boolean", default: false, help: "internal: started by the agent's keeper" },
  },
});

export const DRILL = defineCommand({
  name: "drill",
  args: "christmas-eve",
  summary:
    "Rehearse the 24 December 2012 outage against a running deployment: delete a share of the state behind the API's back and watch it be detected and repaired.",
  details: [
    "Loopback deployments only; it bypasses the API to damage the store.",
    "--journal ends with 'state repair --apply': an approved ticket for ballast:RepairState (--ticket) or --break-glass --reason TEXT.",
  ],
  flags: {
    ...CLIENT_FLAGS,
    store: {
      type: "string",
      default: "sqlite",
      arg: "STORE",
      help: "the deployment's store (as --store of ballast up)",
    },
    "dns-port": { type: "string", default: "8053", arg: "PORT", help: "the deployment's DNS responder" },
    share: {
      type: "string",
      default: "30",
      arg: "PERCENT",
      help: "share of the current state deleted (1 to 100)",
    },
    journal: {
      type: "boolean",
      default: false,
      help: "then damage the journal itself: read-only mode, then state repair",
    },
    duration: {
      type: "string",
      default: "15",
      arg: "SECONDS",
      help: "ordinary API changes after the damage",
    },
    rate: { type: "string", default: "10", arg: "N", help: "requests per second per load balancer" },
    "max-requests": { type: "string", default: "2000", arg: "N", help: "requests per load balancer at most" },
    timeout: {
      type: "string",
      default: "60",
      arg: "SECONDS",
      help: "wait for detection, and again for repair",
    },
    "read-only": {
      type: "string",
      default: "3",
      arg: "SECONDS",
      help: "time in read-only mode before repairing",
    },
    json: { type: "boolean", default: false, help: "print the report as JSON" },
    ...CHANGE_FLAGS,
  },
});
