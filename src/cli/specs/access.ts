/** `ballast principals|keys|policies|audit`: who may do what, and what was done. */

import { CHANGE, CHANGE_FLAGS } from "../change-flags.js";
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

const ADMIN_NOTE = [
  "Changes to an administrator's keys or policies need an approved change ticket (--ticket ID) or --break-glass --reason TEXT.",
];

export const PRINCIPALS = defineCommand({
  name: "principals",
  summary: "Principals (IAM users) and the policies that govern them.",
  flags: {
    policy: { type: "string", multiple: true, arg: "NAME", help: "a policy to attach" },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    ...CHANGE_FLAGS,
  },
  details: ADMIN_NOTE,
  common: CLIENT_JSON,
  verbs: [
    { name: "list", summary: "every principal, its policies and keys" },
    { name: "show", args: "NAME", summary: "one principal" },
    { name: "create", args: "NAME", summary: "a new principal", flags: ["policy", ...CHANGE] },
    {
      name: "delete",
      args: "NAME",
      summary: "delete a principal that has no access keys left",
      flags: [...CHANGE],
    },
  ],
});

export const KEYS = defineCommand({
  name: "keys",
  summary: "Access keys; the secret is printed once, on create and rotate.",
  flags: {
    principal: { type: "string", arg: "NAME", help: "only this principal's keys" },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    ...CHANGE_FLAGS,
  },
  details: ADMIN_NOTE,
  common: CLIENT_JSON,
  verbs: [
    { name: "list", summary: "access key id, principal, status, created", flags: ["principal"] },
    { name: "create", args: "PRINCIPAL", summary: "a new key for the principal", flags: [...CHANGE] },
    { name: "rotate", args: "ID", summary: "a new key; the old one becomes Inactive", flags: [...CHANGE] },
    { name: "deactivate", args: "ID", summary: "the key stops working (reversible)", flags: [...CHANGE] },
    { name: "activate", args: "ID", summary: "an Inactive key works again", flags: [...CHANGE] },
    { name: "delete", args: "ID", summary: "delete a key for good", flags: [...CHANGE] },
  ],
});

export const POLICIES = defineCommand({
  name: "policies",
  summary: "IAM-style policy documents: managed (listed, fixed) and customer.",
  flags: {
    document: { type: "string", arg: "FILE|JSON", help: "the policy document: a file, or the JSON itself" },
    description: { type: "string", arg: "TEXT", help: "what the policy is for" },
    principal: { type: "string", arg: "NAME", help: "the principal to attach it to or detach it from" },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    ...CHANGE_FLAGS,
  },
  details: ADMIN_NOTE,
  common: CLIENT_JSON,
  verbs: [
    { name: "list", summary: "name, type, attachments, description" },
    { name: "show", args: "NAME", summary: "one policy and its document" },
    {
      name: "put",
      args: "NAME",
      summary: "store a customer policy (--document is required)",
      flags: ["document", "description", ...CHANGE],
    },
    {
      name: "delete",
      args: "NAME",
      summary: "delete a customer policy attached to nobody",
      flags: [...CHANGE],
    },
    {
      name: "attach",
      args: "NAME",
      summary: "attach a policy to --principal",
      flags: ["principal", ...CHANGE],
    },
    {
      name: "detach",
      args: "NAME",
      summary: "detach a policy from --principal",
      flags: ["principal", ...CHANGE],
    },
  ],
});

export const AUDIT = defineCommand({
  name: "audit",
  summary: "The audit log of every call and every denial, newest first.",
  flags: {
    principal: { type: "string", arg: "NAME", help: "only this principal's calls" },
    action: { type: "string", arg: "ACTION", help: "only this action (CreateLoadBalancer, PutInstance…)" },
    denied: { type: "boolean", default: false, help: "only denials (same as --result denied)" },
    result: { type: "string", arg: "RESULT", help: "only this result: allowed, denied or an error code" },
    since: { type: "string", arg: "TIME", help: "only calls at or after this ISO 8601 time" },
    limit: { type: "string", arg: "N", defaultText: "100", help: "at most N records (1 to 10000)" },
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
  },
});
