/** `ballast state …`: the journal — read, diff, restore, verify, back up, compact, repair. */

import { CHANGE, CHANGE_FLAGS } from "../change-flags.js";
import { defineCommand } from "../command.js";
import { CLIENT_FLAGS, CLIENT_JSON, JSON_FLAG } from "./common.js";

export const STATE = defineCommand({
  name: "state",
  summary:
    "The state journal through the signed admin API: every change is a revision that can be read, diffed and restored.",
  details: [
    "Long operations (verify, restore, import, compact) draw their progress on stderr.",
    "restore, import, compact and repair --apply need an approved change ticket (ballast tickets) or --break-glass --reason TEXT.",
  ],
  flags: {
    ...CLIENT_FLAGS,
    ...JSON_FLAG,
    lb: { type: "string", multiple: true, arg: "NAME", help: "only this load balancer" },
    limit: { type: "string", arg: "N", defaultText: "50", help: "at most N revisions" },
    before: { type: "string", arg: "REV", help: "only revisions before REV (the next page)" },
    at: { type: "string", arg: "REV|TIME", default: "head", help: "the revision or ISO 8601 time to show" },
    to: { type: "string", arg: "REV|TIME", help: "the revision or time to restore (required)" },
    "include-credentials": {
      type: "boolean",
      default: false,
      help: "restore access keys, principals and policies too (left as they are otherwise)",
    },
    "allow-empty": { type: "boolean", default: false, help: "allow a restore that leaves no load balancer" },
    "keep-credentials": {
      type: "boolean",
      default: false,
      help: "leave today's access keys, principals and policies as they are",
    },
    "accept-unsigned": {
      type: "boolean",
      default: false,
      help: "read a version-1 export (bare checksum, no MAC): only a file whose origin you know",
    },
    out: {
      type: "string",
      arg: "FILE",
      defaultText: "stdout",
      help: "write the export to FILE (atomically)",
    },
    create: { type: "boolean", default: false, help: "take a backup now" },
    through: { type: "string", arg: "REV", help: "compact the history through revision REV" },
    "older-than": { type: "string", arg: "DAYS", help: "compact the history older than DAYS days" },
    plan: { type: "boolean", default: false, help: "show the repair plan (the default)" },
    apply: { type: "boolean", default: false, help: "carry the repair out (needs --reason)" },
    ...CHANGE_FLAGS,
  },
  common: CLIENT_JSON,
  verbs: [
    { name: "history", summary: "who changed what, when, from where", flags: ["lb", "limit", "before"] },
    { name: "show", summary: "the whole state at a revision", flags: ["at"] },
    { name: "diff", args: "A [B]", summary: "what changed between two revisions or times (B: the head)" },
    {
      name: "restore",
      summary: "a past state, as one new revision (undo it the same way)",
      flags: ["to", "lb", "include-credentials", "allow-empty", ...CHANGE],
    },
    { name: "verify", summary: "hash chain and current state against a replay (exit code 1 if not)" },
    { name: "export", summary: "the state, secrets sealed and signed, as JSON", flags: ["out"] },
    {
      name: "import",
      args: "FILE",
      summary: "an export, as one new revision",
      flags: ["keep-credentials", "accept-unsigned", ...CHANGE],
    },
    { name: "backups", summary: "the backups in <data-dir>/backups", flags: ["create"] },
    {
      name: "compact",
      summary:
        "remove superseded history older than the retention period (--through or --older-than, and --ticket)",
      flags: ["through", "older-than", ...CHANGE],
    },
    { name: "compactions", summary: "the compactions done so far" },
    {
      name: "repair",
      summary:
        "rebuild a damaged journal from the newest good backup, the intact revisions and the agents' reports (administrators)",
      flags: ["plan", "apply", ...CHANGE],
    },
  ],
});
