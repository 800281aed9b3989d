/**
 * The admin route of `ballast state repair` (store/ops/repair-journal.ts):
 *
 *   POST /admin/v1/state/repair  {}                              → { plan }   (dry run: changes nothing)
 *   POST /admin/v1/state/repair  { apply: true, reason: "…" }    → { plan, revision, evidence, state }
 *
 * Administrators only. Applying needs a reason, recorded with the new epoch's first revision (its
 * `ticket` field beside the change ticket or break-glass reason the handler admitted it with, and
 * the principal, source address and request id). The route works in read-only mode — it is the
 * way out of it — so the composition root hands it the store without the read-only gate.
 */
import { BallastError } from "../../model/errors.js";
import type { Credential } from "../../model/types.js";
import type { AppliedRepair, JournalRepairPlan } from "../../store/ops/repair-journal.js";
import type { RevisionMeta } from "../../store/store.js";
import { ADMIN_PREFIX, type Json, jsonObject } from "./common.js";

export const REPAIR_PATH = `${ADMIN_PREFIX}/state/repair`;

/** What the composition root provides: planning and applying on the ungated store. */
export interface JournalRepairControl {
  plan(): Promise<JournalRepairPlan>;
  /** Applies, then has the state checked again; `state` is that check's verdict. */
  apply(meta: Omit<RevisionMeta, "action">): Promise<AppliedRepair & { readonly state: Json }>;
}

export interface RepairCall {
  readonly method: string;
  readonly body: Buffer;
  readonly credential: Credential;
  readonly meta: Omit<RevisionMeta, "action">;
}

export function createRepairRoute(
  control: JournalRepairControl | undefined,
): (call: RepairCall) => Promise<Json> {
  return async ({ method, body, meta }) => {
    if (method !== "POST") throw new BallastError("NotFound", `No route for ${method} ${REPAIR_PATH}`);
    if (control === undefined)
      throw new BallastError("ServiceUnavailable", "This control plane cannot repair its journal");
    // Authorized by the handler like every route: ballast:RepairState (BallastAdministrator).
    const doc = body.length === 0 ? {} : jsonObject(body, "{ apply?, reason? }");
    if (doc.apply !== true) return { plan: await control.plan() };
    const reason = typeof doc.reason === "string" ? doc.reason.trim() : "";
    if (reason === "")
      throw new BallastError(
        "ValidationError",
        "Applying a repair needs a reason (--reason): it is recorded in the journal",
      );
    // The change ticket (or break-glass reason) the handler admitted the call with, and the reason.
    const applied = await control.apply({
      ...meta,
      ticket: meta.ticket === undefined ? `repair: ${reason}` : `${meta.ticket}; repair: ${reason}`,
    });
    return { ...applied };
  };
}
