/**
 * The admin JSON API of the account limits: what DescribeAccountLimits reports and the ELB API
 * enforces. Writes are journal revisions; a delete is a tombstone (the limit is back to its
 * default).
 *
 *   GET    /admin/v1/limits[?region=R]              → { region, limits: [{ name, max, default }] }
 *   PUT    /admin/v1/limits/{name}[?region=R]       { max } → { limit: Limit }
 *   DELETE /admin/v1/limits/{name}[?region=R]       → { deleted: name }  (back to the default)
 *
 * Limits are per region: `?region=`, else the region of the request's credential scope
 * (`ballast limits … --region R` signs for R).
 */
import { BallastError } from "../../model/errors.js";
import { DEFAULT_LIMITS, isLimitName, LIMIT_NAMES, validateLimitMax } from "../../model/limits.js";
import { DEFAULT_REGION, regionalKey } from "../../model/region.js";
import type { Limit } from "../../model/types.js";
import type { Store } from "../../store/store.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject, member } from "./common.js";

const LIMITS = `${ADMIN_PREFIX}/limits`;

export function isLimitsPath(path: string): boolean {
  return isBelow(path, LIMITS);
}

export function createLimitRoutes(opts: { readonly store: Store }): (call: AdminCall) => Promise<Json> {
  const { store } = opts;
  return async (call) => {
    const { method, path } = call;
    const id = member(path, LIMITS);
    if (id === undefined && method === "GET")
      return { region: call.region, limits: await listLimits(call.region) };
    if (id !== undefined) {
      if (!isLimitName(id))
        throw new BallastError(
          "InvalidParameterValue",
          `Unknown limit ${JSON.stringify(id)}; the limits are ${LIMIT_NAMES.join(", ")}`,
        );
      if (method === "PUT")
        return { limit: await putLimit(call, { name: id, region: call.region, max: parseMax(call.body) }) };
      if (method === "DELETE") return deleteLimit(call, id);
    }
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };

  async function listLimits(region: string): Promise<Json[]> {
    const out: Json[] = [];
    for (const name of LIMIT_NAMES) {
      const set = (await store.get("limit", regionalKey(region, name)))?.doc;
      out.push({ name, max: set?.max ?? DEFAULT_LIMITS[name], default: DEFAULT_LIMITS[name] });
    }
    return out;
  }

  /** Lowering a limit below what exists removes nothing: it stops further growth, as an AWS quota does. */
  async function putLimit(call: AdminCall, limit: Limit): Promise<Limit> {
    const key = regionalKey(limit.region ?? DEFAULT_REGION, limit.name);
    await store.mutate({ ...call.meta, action: "PutLimit" }, async (tx) => {
      if ((await tx.get("limit", key))?.max !== limit.max) tx.put("limit", key, limit);
    });
    return limit;
  }

  async function deleteLimit(call: AdminCall, name: string): Promise<Json> {
    const key = regionalKey(call.region, name);
    await store.mutate({ ...call.meta, action: "DeleteLimit" }, async (tx) => {
      if (await tx.get("limit", key)) tx.delete("limit", key);
    });
    return { deleted: name };
  }
}

function parseMax(body: Buffer): number {
  return validateLimitMax(jsonObject(body, "{max}").max);
}
