/**
 * The two-person rule's flags, shared by every command that does maintenance: `--ticket ID` (an
 * approved change ticket) or `--break-glass --reason TEXT` (act alone, audited and alarmed).
 */
import { UsageError } from "./args.js";
import type { ChangeAuthority } from "./signed-client.js";

/** parseArgs options: spread into a command's own. */
export const CHANGE_FLAGS = {
  ticket: { type: "string" },
  "break-glass": { type: "boolean", default: false },
  reason: { type: "string" },
} as const;

export const CHANGE_FLAGS_USAGE = "[--ticket ID | --break-glass --reason TEXT]";

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
