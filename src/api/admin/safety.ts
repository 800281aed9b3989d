/**
 * The admin JSON API of the controller's safety workflows: changes the blast-radius guard holds,
 * the operator's decision on each, and the last check of the stored state.
 *
 *   GET  /admin/v1/alarms                         → { state: StateCheck | null, holds: GuardHold[], fleet: FleetAlarm[],
 *                                                    readOnly?: ReadOnlyIncident (only in read-only mode) }
 *   GET  /admin/v1/guard/holds                    → { holds: GuardHold[] }
 *   POST /admin/v1/guard/holds/{zone}/release     → { released: GuardHold }
 *   POST /admin/v1/guard/holds/{zone}/discard     → { discarded: GuardHold }
 *
 * Deciding on a hold is `ballast:ReleaseGuardHold` / `ballast:DiscardGuardHold` (authorized by the
 * handler) under an approved change ticket or break-glass (the handler's change control); it is
 * stored and logged with the principal, the ticket or the break-glass reason.
 *
 * The alarms include every break-glass call of the last BREAK_GLASS_ALARM_HOURS hours
 * (`breakGlass`), read from the audit log.
 */
import { BallastError } from "../../model/errors.js";
import type { BreakGlassAlarm, SafetyControl } from "../../model/guard.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json } from "./common.js";

const ALARMS = `${ADMIN_PREFIX}/alarms`;
const HOLDS = `${ADMIN_PREFIX}/guard/holds`;

export function isSafetyPath(path: string): boolean {
  return path === ALARMS || isBelow(path, HOLDS);
}

export function createSafetyRoutes(
  control: SafetyControl | undefined,
  breakGlass?: () => Promise<readonly BreakGlassAlarm[]>,
): (call: AdminCall) => Promise<Json> {
  return async (call) => {
    const { method, path } = call;
    if (control === undefined)
      throw new BallastError("ServiceUnavailable", "This control plane runs no controller workflows");
    if (method === "GET" && path === ALARMS) {
      const readOnly = control.readOnly?.();
      return {
        state: control.stateCheck() ?? null,
        holds: control.holds(),
        breakGlass: breakGlass === undefined ? [] : await breakGlass(),
        ...(control.fleetAlarms === undefined ? {} : { fleet: control.fleetAlarms() }),
        ...(readOnly ? { readOnly } : {}),
      };
    }
    if (method === "GET" && path === HOLDS) return { holds: control.holds() };
    const m = /^\/([^/]+)\/(release|discard)$/.exec(path.slice(HOLDS.length));
    if (method === "POST" && m !== null) {
      const zone = decodeURIComponent(m[1] ?? "");
      const decision = m[2] === "release" ? "released" : "discarded";
      const by = {
        principal: call.credential.principal,
        ...(call.meta.ticket === undefined ? {} : { ticket: call.meta.ticket }),
        ...(call.breakGlass === undefined ? {} : { breakGlass: call.breakGlass }),
      };
      const hold = m[2] === "release" ? await control.release(zone, by) : await control.discard(zone, by);
      if (hold === undefined) throw new BallastError("NotFound", `No change is held for zone ${zone}`);
      return { [decision]: hold };
    }
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };
}
