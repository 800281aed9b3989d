/**
 * The admin JSON API, signed with SigV4 like the ELB API: this module authenticates the request's
 * head before reading any body (no presigned URL for maintenance or export: presigned.ts), reads
 * the body within the route's own limit and verifies the signature over it (../aws-query/body.ts),
 * hands the call to the module of its resource, and answers in JSON (errors as
 * `{ error: { code, message } }` with the status of their code).
 *
 *   /admin/v1/instances…     the instance inventory            instances.ts
 *   /admin/v1/certificates…  the certificate store             certificates.ts
 *   /admin/v1/subnets…       the subnet registry               subnets.ts
 *   /admin/v1/limits…        the account limits                limits.ts
 *   /admin/v1/state/…        the journal: history, show, diff, restore, verify, export/import,
 *                            backups (writes its own responses) state.ts
 *   /admin/v1/agents         the agents' reports: zone, revision, refusals  agents.ts
 *   /admin/v1/load-balancers…  the operator's view: configuration, back ends with the reason
 *                            of their last failed check, nodes, traffic    load-balancers.ts
 *   /admin/v1/control-planes the replicas and the active controller     control-planes.ts
 *   /admin/v1/alarms, /admin/v1/guard/holds…
 *                            the guard's holds and the state check safety.ts
 *   /admin/v1/principals…, /admin/v1/keys…, /admin/v1/policies…
 *                            principals, access keys, policies     access.ts
 *   /admin/v1/audit          the audit log                         audit.ts
 *   /admin/v1/tickets…       change tickets: open, approve, reject, close   tickets.ts
 *
 * Every call is authorized after authentication, before its module runs: the route's IAM action
 * and resource come from one table (model/access.ts ADMIN_ROUTES), and a call the caller's
 * policies do not allow gets AWS's AccessDenied message in the JSON error. A maintenance call
 * (maintenance.ts) then needs an approved change ticket or break-glass (../auth/change-control.ts).
 * Every call is audited.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { adminRequest } from "../../model/access.js";
import { BallastError, isBallastError } from "../../model/errors.js";
import { BREAK_GLASS_ALARM_HOURS, type BreakGlassAlarm, type SafetyControl } from "../../model/guard.js";
import type { ControlPlanesView } from "../../model/leadership.js";
import { validateRegion } from "../../model/region.js";
import type { Store } from "../../store/store.js";
import type { TrafficHistory } from "../../store/traffic-history.js";
import type { Logger } from "../../util/logger.js";
import { type AuditedCall, type AuditSink, auditCall } from "../auth/audit-log.js";
import type { Authenticator } from "../auth/authenticator.js";
import { Authorizer } from "../auth/authorizer.js";
import { type Admission, ChangeControl } from "../auth/change-control.js";
import { ClientClosedError, readAuthenticatedBody } from "../aws-query/body.js";
import { UnauthenticatedNoise, unauthenticatedReason } from "../unauthenticated.js";
import { createAccessRoutes, isAccessPath } from "./access.js";
import { createAgentKeyRoutes, isAgentKeysPath } from "./agent-keys.js";
import { createAgentRoutes, isAgentsPath } from "./agents.js";
import { createAuditRoutes, isAuditPath } from "./audit.js";
import { createCertificateRoutes, isCertificatesPath } from "./certificates.js";
import { ADMIN_PREFIX, type AdminCall, type Json } from "./common.js";
import { createControlPlaneRoutes, isControlPlanesPath } from "./control-planes.js";
import { createInstanceRoutes, isInstancesPath } from "./instances.js";
import { createRepairRoute, type JournalRepairControl, REPAIR_PATH } from "./journal-repair.js";
import { createLimitRoutes, isLimitsPath } from "./limits.js";
import { createLoadBalancerRoutes, isLoadBalancersPath } from "./load-balancers.js";
import { maintenanceOf } from "./maintenance.js";
import { refusePresigned } from "./presigned.js";
import { createSafetyRoutes, isSafetyPath } from "./safety.js";
import { createStateRoutes, IMPORT_MAX_BODY_BYTES, isStatePath, STATE_PREFIX } from "./state.js";
import { createSubnetRoutes, isSubnetsPath } from "./subnets.js";
import { createTicketRoutes, isTicketsPath } from "./tickets.js";

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
  /** Where refusals before authentication are counted and logged (default: a private one). */
  readonly noise?: UnauthenticatedNoise;
  /** Where every call is recorded (the control plane's AuditLog); none in some tests. */
  readonly audit?: AuditSink;
  /** Decides each call after authentication; default: the store's principals and policies. */
  readonly authorizer?: Authorizer;
  /** `ballast state repair` (journal-repair.ts), when this process can repair its journal. */
  readonly repair?: JournalRepairControl;
  /** The two-person rule for maintenance calls; default: one on this store. */
  readonly changeControl?: ChangeControl;
  /** The clock of tickets and alarms (tests). */
  readonly now?: () => Date;
  /** The traffic the agents report to this process (the load balancers' stats); none: empty stats. */
  readonly traffic?: TrafficHistory;
  /** The zones agents may serve (an agent's key names one). */
  readonly zones?: readonly string[];
  /** The control-plane replicas and which one is the active controller (control-planes.ts). */
  readonly controlPlanes?: () => Promise<ControlPlanesView>;
}

export function createAdminHandler(
  opts: AdminHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logger = opts.logger.child({ component: "admin-api" });
  const instances = createInstanceRoutes({ store: opts.store });
  const certificates = createCertificateRoutes({ store: opts.store });
  const subnets = createSubnetRoutes({ store: opts.store });
  const limits = createLimitRoutes({ store: opts.store });
  const now = opts.now ?? (() => new Date());
  const changeControl = opts.changeControl ?? new ChangeControl({ store: opts.store, logger, now });
  const tickets = createTicketRoutes({ store: opts.store, logger, now });
  const safety = createSafetyRoutes(opts.safety, () => breakGlassAlarms(opts.store, now()));
  const agents = createAgentRoutes({
    store: opts.store,
    ...(opts.traffic === undefined ? {} : { traffic: opts.traffic }),
  });
  const loadBalancers = createLoadBalancerRoutes({
    store: opts.store,
    ...(opts.traffic === undefined ? {} : { traffic: opts.traffic }),
  });
  const agentKeys = createAgentKeyRoutes({ store: opts.store, zones: opts.zones ?? [] });
  const controlPlanes = createControlPlaneRoutes(opts.controlPlanes);
  const authorizer = opts.authorizer ?? new Authorizer(opts.store);
  const access = createAccessRoutes({ store: opts.store });
  const auditRoutes = createAuditRoutes({ store: opts.store, ...(opts.audit ? { audit: opts.audit } : {}) });
  const repair = createRepairRoute(opts.repair);
  const state = createStateRoutes({
    store: opts.store,
    logger: opts.logger,
    ...(opts.backupDir === undefined ? {} : { backupDir: opts.backupDir }),
    ...(opts.retentionDays === undefined ? {} : { retentionDays: opts.retentionDays }),
  });
  const noise = opts.noise ?? new UnauthenticatedNoise({ logger });
  return (req, res) => {
    const requestId = randomUUID();
    const progress = { authenticated: false };
    const call: AuditedCall = {};
    handle(req, res, requestId, progress, call)
      .then((body) => {
        auditCall(opts.audit, req, requestId, call);
        if (body) sendJson(res, 200, body, requestId);
      })
      .catch((e: unknown) => {
        const reason = progress.authenticated ? undefined : unauthenticatedReason(e);
        if (reason !== undefined) noise.record(reason, req.socket.remoteAddress);
        if (e instanceof ClientClosedError) {
          res.destroy();
          return;
        }
        const err = isBallastError(e)
          ? e
          : new BallastError("InternalFailure", "An internal error occurred.");
        if (!isBallastError(e)) logger.error("unexpected failure", { requestId, err: e });
        auditCall(opts.audit, req, requestId, call, err.code);
        sendJson(res, err.status, { error: { code: err.code, message: err.message } }, requestId);
      });
  };

  /** The JSON to answer with, or undefined when the response was already written. */
  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    progress: { authenticated: boolean },
    audited: AuditedCall,
  ): Promise<Json | undefined> {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "";
    // The head first: nothing of the body is read for a request that cannot be authenticated.
    const pending = await opts.authenticator.authenticateHead({ method, url, headers: req.headers });
    if (pending.presigned) refusePresigned(method, path);
    // Each route its own limit: only a state import takes a large body (and only once signed).
    const importing = method === "POST" && path === `${STATE_PREFIX}/import`;
    const limit = importing ? IMPORT_MAX_BODY_BYTES : MAX_BODY_BYTES;
    const { body, auth } = await readAuthenticatedBody(req, pending, limit);
    progress.authenticated = true;
    const { credential } = auth;
    audited.credential = credential;
    const query = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : "");
    const asked = query.get("region");
    const filterRegion = asked === null ? undefined : validateRegion(asked);
    const request = adminRequest(method, path.slice(ADMIN_PREFIX.length), filterRegion ?? auth.region);
    audited.request = request;
    await authorizer.authorize(credential, [request]);
    // The two-person rule, after the policy check: a ticket adds to a policy, never replaces one.
    const region = filterRegion ?? auth.region;
    const maintenance = await maintenanceOf({
      method,
      path,
      action: request.action,
      body,
      store: opts.store,
      authorizer,
    });
    let admission: Admission = {};
    if (maintenance !== undefined) {
      const use = {
        principal: credential.principal,
        operation: request.action,
        region,
        loadBalancers: maintenance.loadBalancers,
      };
      admission = await changeControl.admit(use, maintenance.why, req.headers, requestId);
      if (admission.breakGlass !== undefined) audited.breakGlass = admission.breakGlass;
    }
    const ticket =
      admission.ticket ??
      (admission.breakGlass === undefined ? undefined : `break-glass: ${admission.breakGlass}`);
    const meta = {
      principal: credential.principal,
      sourceIp: req.socket.remoteAddress ?? "",
      requestId,
      ...(ticket === undefined ? {} : { ticket }),
    };
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
      region,
      filterRegion,
      ...(admission.breakGlass === undefined ? {} : { breakGlass: admission.breakGlass }),
    };
    if (isTicketsPath(path)) {
      const answer = await tickets(call, query);
      sendJson(res, answer.status, answer.body, requestId);
      return undefined;
    }
    if (isAccessPath(path)) return access(call, query);
    if (isAuditPath(path)) return auditRoutes(call, query);
    if (isSubnetsPath(path)) return subnets(call);
    if (isLimitsPath(path)) return limits(call);
    if (isSafetyPath(path)) return safety(call);
    if (isAgentsPath(path)) return agents(call);
    if (isLoadBalancersPath(path)) return loadBalancers(call, query);
    if (isAgentKeysPath(path)) return agentKeys(call);
    if (isControlPlanesPath(path)) return controlPlanes(call);
    if (isCertificatesPath(path)) return certificates(call);
    if (isInstancesPath(path)) return instances(call);
    throw new BallastError("NotFound", `No such resource: ${path}`);
  }
}

/** The break-glass calls of the last BREAK_GLASS_ALARM_HOURS hours, newest first. */
async function breakGlassAlarms(store: Store, now: Date): Promise<BreakGlassAlarm[]> {
  const since = new Date(now.getTime() - BREAK_GLASS_ALARM_HOURS * 3_600_000).toISOString();
  const records = await store.audit({ breakGlass: true, since, limit: 1000 });
  return records.map((r) => ({
    time: r.time,
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    reason: r.breakGlass ?? "",
    requestId: r.requestId,
  }));
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
    // A request refused before its body was read: the rest of it is not read, the connection closes.
    ...(res.req.complete ? {} : { Connection: "close" }),
  });
  res.end(payload);
}
