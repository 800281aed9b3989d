/**
 * The admin JSON API's view of the control-plane replicas: which one is the active controller
 * (the one running the workflows), this replica's own standing, and every replica connected.
 *
 *   GET /admin/v1/control-planes → { self: { id, active, activeSince }, replicas: [{ id, active,
 *                                    connectedSince, address }], takeovers }
 */
import { BallastError } from "../../model/errors.js";
import type { ControlPlanesView } from "../../model/leadership.js";
import { ADMIN_PREFIX, type AdminCall, type Json } from "./common.js";

const CONTROL_PLANES = `${ADMIN_PREFIX}/control-planes`;

export function isControlPlanesPath(path: string): boolean {
  return path === CONTROL_PLANES;
}

export function createControlPlaneRoutes(
  view: (() => Promise<ControlPlanesView>) | undefined,
): (call: AdminCall) => Promise<Json> {
  return async (call) => {
    if (call.method !== "GET") throw new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
    if (view === undefined)
      throw new BallastError("ServiceUnavailable", "This process does not run a controller.");
    try {
      return { ...(await view()) };
    } catch (e) {
      throw new BallastError(
        "ServiceUnavailable",
        `The replicas cannot be listed now: ${(e as Error).message}`,
      );
    }
  };
}
