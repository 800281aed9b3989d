/**
 * The admin JSON API, signed with SigV4 like the ELB API: this module reads the body,
 * authenticates the caller, hands the call to the module of its resource, and answers in JSON
 * (errors as `{ error: { code, message } }` with the status of their code).
 *
 *   /admin/v1/instances…     the instance inventory            instances.ts
 *   /admin/v1/certificates…  the certificate store             certificates.ts
 *   /admin/v1/subnets…       the subnet registry               subnets.ts
 *   /admin/v1/limits…        the account limits                limits.ts
 *   /admin/v1/state/…        the journal: history, show, diff, restore, verify, export/import,
 *                            backups (writes its own responses) state.ts
 *   /admin/v1/alarms, /admin/v1/guard/holds…
 *                            the guard's holds and the state check safety.ts
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BallastError, isBallastError } from "../../model/errors.js";
import type { SafetyControl } from "../../model/guard.js";
import { validateRegion } from "../../model/region.js";
import type { Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import type { Authenticator } from "../auth/authenticator.js";
import { readBody } from "../aws-query/body.js";
import { createCertificateRoutes, isCertificatesPath } from "./certificates.js";
import type { AdminCall, Json } from "./common.js";
import { createInstanceRoutes, isInstancesPath } from "./instances.js";
import { createRepairRoute, type JournalRepairControl, REPAIR_PATH } from "./journal-repair.js";
import { createLimitRoutes, isLimitsPath } from "./limits.js";
import { createSafetyRoutes, isSafetyPath } from "./safety.js";
import { createStateRoutes, IMPORT_MAX_BODY_BYTES, isStatePath, STATE_PREFIX } from "./state.js";
import { createSubnetRoutes, isSubnetsPath } from "./subnets.js";

export { ADMIN_PREFIX } from "./common.js";

const MAX_BODY_BYTES = 64 * 1024;

export interface AdminHandlerOptions {
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** Where state backups live (the state routes list and create them there). */
  readonly backupDir?: string;
  /** Days of history a journal compaction never removes (the state routes' default: 90). */
  readonly retentionDays?: number;
  /** The controller's guard and state check, when this process runs them. */
  readonly safety?: SafetyControl;
  /** `ballast state repair` (journal-repair.ts), when this process can repair its journal. */
  readonly repair?: JournalRepairControl;
}

export function createAdminHandler(
  opts: AdminHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logger = opts.logger.child({ component: "admin-api" });
  const instances = createInstanceRoutes({ store: opts.store });
  const certificates = createCertificateRoutes({ store: opts.store });
  const subnets = createSubnetRoutes({ store: opts.store });
  const limits = createLimitRoutes({ store: opts.store });
  const safety = createSafetyRoutes(opts.safety);
  const repair = createRepairRoute(opts.repair);
  const state = createStateRoutes({
    store: opts.store,
    logger: opts.logger,
    ...(opts.backupDir === undefined ? {} : { backupDir: opts.backupDir }),
    ...(opts.retentionDays === undefined ? {} : { retentionDays: opts.retentionDays }),
  });
  return (req, res) => {
    const requestId = randomUUID();
    handle(req, res, requestId)
      .then((body) => {
        if (body) sendJson(res, 200, body, requestId);
      })
      .catch((e: unknown) => {
        const err = isBallastError(e)
          ? e
          : new BallastError("InternalFailure", "An internal error occurred.");
        if (!isBallastError(e)) logger.error("unexpected failure", { requestId, err: e });
        sendJson(res, err.status, { error: { code: err.code, message: err.message } }, requestId);
      });
  };

  /** The JSON to answer with, or undefined when the response was already written. */
  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<Json | undefined> {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "";
    const importing = method === "POST" && path === `${STATE_PREFIX}/import`;
    const body = await readBody(req, importing ? IMPORT_MAX_BODY_BYTES : MAX_BODY_BYTES);
    const auth = await opts.authenticator.authenticate({ method, url, headers: req.headers, body });
    const { credential } = auth;
    const query = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    const asked = query.get("region");
    const filterRegion = asked === null ? undefined : validateRegion(asked);
    const meta = { principal: credential.principal, sourceIp: req.socket.remoteAddress ?? "", requestId };
    if (path === REPAIR_PATH) return repair({ method, body, credential, meta }); // state repair
    if (isStatePath(path)) {
      const route = path.slice(STATE_PREFIX.length);
      await state({ method, route, query, body, accept: req.headers.accept, credential, meta }, res);
      return undefined;
    }
    const call: AdminCall = {
      method,
      path,
      body,
      credential,
      meta,
      region: filterRegion ?? auth.region,
      filterRegion,
    };
    if (isSubnetsPath(path)) return subnets(call);
    if (isLimitsPath(path)) return limits(call);
    if (isSafetyPath(path)) return safety(call);
    if (isCertificatesPath(path)) return certificates(call);
    if (isInstancesPath(path)) return instances(call);
    throw new BallastError("NotFound", `No such resource: ${path}`);
  }
}

function sendJson(res: ServerResponse, status: number, body: Json, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": payload.length,
    "x-amzn-RequestId": requestId,
  });
  res.end(payload);
}
