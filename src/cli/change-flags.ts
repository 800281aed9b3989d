/**
 * The two-person rule's flags, shared by every command that does maintenance: `--ticket ID` (an
 * approved change ticket) or `--break-glass --reason TEXT` (act alone, audited and alarmed).
 */
import { UsageError } from "./args.js";
import type { ChangeAuthority } from "./signed-client.js";

/** Flag descriptions (src/cli/command.ts): spread into a command's flags. */
export const CHANGE_FLAGS = {
  ticket: {
    type: "string",
    arg: "ID",
    help: "an approved change ticket covering this operation (ballast tickets)",
  },
  "break-glass": {
    type: "boolean",
    default: false,
    help: "act without a ticket: needs --reason, is audited and raises an alarm",
  },
  reason: { type: "string", arg: "TEXT", help: "why (with --break-glass: its recorded reason)" },
} as const;

/** What a maintenance call needs, in words for an error line. */
export const CHANGE_FLAGS_NOTE =
  "an approved change ticket (--ticket ID, from 'ballast tickets') or --break-glass --reason TEXT";

/** The names of CHANGE_FLAGS, for a verb's `flags`. */
export const CHANGE = ["ticket", "break-glass", "reason"] as const;

/** The headers the flags ask for; a usage error for break-glass without a reason or with a ticket. */
export function changeAuthority(values: {
  readonly ticket?: string | undefined;
  readonly "break-glass"?: boolean | undefined;
  readonly reason?: string | undefined;
}): ChangeAuthority {
  if (values["break-glass"] === true) {
    if (values.ticket !== undefined) throw new UsageError("give --ticket or --break-glass, not both");
    const reason = values.reason?.trim() ?? "";
    if (reason === "" || /[\r\n]/.test(reason))
      throw new UsageError(
        "--break-glass needs --reason TEXT (one line): it is recorded and raises an alarm",
      );
    return { breakGlass: reason };
  }
  return values.ticket === undefined ? {} : { ticket: values.ticket };
}
