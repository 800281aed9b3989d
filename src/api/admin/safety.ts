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
 * handler); it is logged with the principal who made it.
 */
import { BallastError } from "../../model/errors.js";
import type { SafetyControl } from "../../model/guard.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json } from "./common.js";

const ALARMS = `${ADMIN_PREFIX}/alarms`;
const HOLDS = `${ADMIN_PREFIX}/guard/holds`;

export function isSafetyPath(path: string): boolean {
  return path === ALARMS || isBelow(path, HOLDS);
}

export function createSafetyRoutes(control: SafetyControl | undefined): (call: AdminCall) => Promise<Json> {
  return async (call) => {
    const { method, path } = call;
    if (control === undefined)
      throw new BallastError("ServiceUnavailable", "This control plane runs no controller workflows");
    if (method === "GET" && path === ALARMS) {
      const readOnly = control.readOnly?.();
      return {
        state: control.stateCheck() ?? null,
        holds: control.holds(),
        ...(control.fleetAlarms === undefined ? {} : { fleet: control.fleetAlarms() }),
        ...(readOnly ? { readOnly } : {}),
      };
    }
    if (method === "GET" && path === HOLDS) return { holds: control.holds() };
    const m = /^\/([^/]+)\/(release|discard)$/.exec(path.slice(HOLDS.length));
    if (method === "POST" && m !== null) {
      const zone = decodeURIComponent(m[1] ?? "");
      const decision = m[2] === "release" ? "released" : "discarded";
      const hold =
        m[2] === "release"
          ? control.release(zone, call.credential.principal)
          : control.discard(zone, call.credential.principal);
      if (hold === undefined) throw new BallastError("NotFound", `No change is held for zone ${zone}`);
      return { [decision]: hold };
    }
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };
}
