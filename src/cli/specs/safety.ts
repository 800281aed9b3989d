/** `ballast agents|alarms|guard`: what the agents run, what the controller noticed, what it holds. */

import { CHANGE, CHANGE_FLAGS } from "../change-flags.js";
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

export const AGENTS = defineCommand({
  name: "agents",
  summary:
    "The agents as their reports show them (zone, connected or stale, revision, refused documents), and their own keys to the agent channel.",
  flags: {
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    zone: { type: "string", arg: "ZONE", help: "the one zone the agent's key lets it serve" },
    out: {
      type: "string",
      arg: "FILE",
      help: "write the agent's credentials file here (0600, never over an existing file); default: print it",
    },
    control: {
      type: "string",
      arg: "URL[,URL…]",
      help: "the agent channel URLs written into the credentials file (the agent's default --control)",
    },
    ...CHANGE_FLAGS,
  },
  common: CLIENT_JSON,
  verbOptional: true,
  verbs: [
    {
      name: "add",
      args: "NAME",
      summary:
        "make an agent's own key (the secret is shown once; a ticket for ballast:CreateAgentKey once load balancers exist)",
      flags: ["zone", "out", "control", ...CHANGE],
    },
    {
      name: "revoke",
      args: "NAME",
      summary:
        "refuse that agent's key from its next request on (a ticket for ballast:RevokeAgentKey once load balancers exist)",
      flags: [...CHANGE],
    },
    { name: "keys", summary: "the agents' keys and whether each is active" },
  ],
});

export const ALARMS = defineCommand({
  name: "alarms",
  summary:
    "The last check of the stored state, the changes the guard holds, the fleet's and break-glass alarms (exit code 1 if any needs you).",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG },
});

export const GUARD = defineCommand({
  name: "guard",
  summary: "Decide on a change the blast-radius guard holds (administrators).",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG, ...CHANGE_FLAGS },
  common: CLIENT_JSON,
  verbs: [
    { name: "holds", summary: "the held changes: zone, revisions, what they would remove" },
    {
      name: "release",
      args: "ZONE",
      summary: "let the zone's held change go out to its agents (a ticket for ballast:ReleaseGuardHold)",
      flags: [...CHANGE],
    },
    {
      name: "discard",
      args: "ZONE",
      summary: "the zone keeps what it runs; the held removals never reach it",
      flags: [...CHANGE],
    },
  ],
});

export const CONTROL_PLANES = defineCommand({
  name: "control-planes",
  summary:
    "The control-plane replicas on one PostgreSQL and which one is the active controller (exit code 1 if none is).",
  flags: { ...CLIENT_FLAGS, ...JSON_FLAG },
});
