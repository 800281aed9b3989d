/**
 * The AWS Query protocol edge of the ELB 2012-06-01 API: a node:http handler that authenticates
 * the request's head before reading any body, reads the body within its limit and verifies the
 * signature over it (body.ts), picks the action, and answers in the XML AWS sends. Refusals before
 * authentication are counted and logged as rate-limited noise (../unauthenticated.ts). Every failure becomes an `<ErrorResponse>` with the status of its code; an unexpected
 * exception is logged and answered InternalFailure, never a crash.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { elbRequests } from "../../model/access.js";
import { BallastError, isBallastError } from "../../model/errors.js";
import { DEFAULT_LIMITS } from "../../model/limits.js";
import { regionalKey } from "../../model/region.js";
import type { Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import { type AuditedCall, type AuditSink, auditCall } from "../auth/audit-log.js";
import type { Authenticator } from "../auth/authenticator.js";
import { Authorizer } from "../auth/authorizer.js";
import { bulkChangeOf } from "../auth/bulk.js";
import { type Admission, ChangeControl } from "../auth/change-control.js";
import { UnauthenticatedNoise, unauthenticatedReason } from "../unauthenticated.js";
import { ACTIONS } from "./actions/index.js";
import { ClientClosedError, readAuthenticatedBody } from "./body.js";
import type { QuerySettings } from "./context.js";
import { QueryParams } from "./params.js";
import { errorDocument, resultDocument } from "./xml.js";

export const API_VERSION = "2012-06-01";
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AwsQueryHandlerOptions {
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly dnsDomain: string;
  readonly zones: readonly string[];
  readonly logger: Logger;
  /** Where refusals before authentication are counted and logged (default: a private one). */
  readonly noise?: UnauthenticatedNoise;
  /** Default of the classic-load-balancers limit (20, ELB's) when no limit entity sets it; for tests. */
  readonly maxLoadBalancers?: number;
  /** Where every call is recorded (the control plane's AuditLog); none in some tests. */
  readonly audit?: AuditSink;
  /** Decides each call after authentication; default: the store's principals and policies. */
  readonly authorizer?: Authorizer;
  /** The two-person rule for bulk removals; default: one on this store (threshold 10 a minute). */
  readonly changeControl?: ChangeControl;
  /** Clock and randomness, injectable for tests. */
  readonly now?: () => Date;
  readonly randomBytes?: (n: number) => Uint8Array;
}

export function createAwsQueryHandler(
  opts: AwsQueryHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const settings: QuerySettings = {
    dnsDomain: opts.dnsDomain,
    zones: opts.zones,
    maxLoadBalancers: opts.maxLoadBalancers ?? DEFAULT_LIMITS["classic-load-balancers"],
    now: opts.now ?? (() => new Date()),
    randomBytes: opts.randomBytes ?? ((n) => randomBytes(n)),
  };
  const logger = opts.logger.child({ component: "aws-query" });
  const noise = opts.noise ?? new UnauthenticatedNoise({ logger });

  const authorizer = opts.authorizer ?? new Authorizer(opts.store);
  const changeControl = opts.changeControl ?? new ChangeControl({ store: opts.store, logger: opts.logger });

  return (req, res) => {
    const requestId = randomUUID();
    const progress = { authenticated: false };
    const call: AuditedCall = {};
    handle(req, requestId, progress, call)
      .then((xml) => {
        auditCall(opts.audit, req, requestId, call);
        send(res, 200, xml, requestId);
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
        if (isBallastError(e)) {
          if (reason === undefined)
            logger.debug("request rejected", { requestId, code: e.code, message: e.message });
        } else logger.error("unexpected failure", { requestId, err: e });
        auditCall(opts.audit, req, requestId, call, err.code);
        send(res, err.status, errorDocument(err.faultType, err.code, err.message, requestId), requestId);
      });
  };

  async function handle(
    req: IncomingMessage,
    requestId: string,
    progress: { authenticated: boolean },
    call: AuditedCall,
  ): Promise<string> {
    const method = req.method ?? "GET";
    if (method !== "POST" && method !== "GET")
      throw new BallastError("InvalidAction", `The HTTP method ${method} is not supported; use POST or GET.`);
    const url = req.url ?? "/";
    // The head first: nothing of the body is read for a request that cannot be authenticated.
    const pending = await opts.authenticator.authenticateHead({ method, url, headers: req.headers });
    const { body, auth } = await readAuthenticatedBody(req, pending, MAX_BODY_BYTES);
    progress.authenticated = true;
    const { credential, region } = auth;
    call.credential = credential;

    const query = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
    const params = QueryParams.parse(query, method === "POST" ? body.toString("utf8") : "");
    const action = params.string("Action");
    if (!action) throw new BallastError("MissingAction", "The request must contain the parameter Action.");
    call.request = { action: `elasticloadbalancing:${action}`, resource: "*" };
    const version = params.string("Version");
    const definition = ACTIONS.get(action);
    // Coral services (ELB among them) resolve an operation by Action *and* Version: an unknown action
    // and a known action under another or no Version get the same answer, InvalidAction
    // "Could not find operation X for version Y". Ballast answers exactly that.
    if (!definition || version !== API_VERSION)
      throw new BallastError(
        "InvalidAction",
        `Could not find operation ${action} for version ${version ?? "NO_VERSION_SPECIFIED"}`,
      );
    // Authorized as IAM does, before the action reads or writes anything: one request per load
    // balancer the call names (model/access.ts), AccessDenied naming the first one refused.
    const requests = elbRequests(action, region, (name) => params.string(name));
    call.request = { action: call.request.action, resource: requests.map((r) => r.resource).join(",") };
    await authorizer.authorize(credential, requests);
    // A bulk removal is maintenance: past the threshold, a change ticket or break-glass.
    let admission: Admission = {};
    let uncount: () => Promise<void> = async () => undefined;
    const bulk = bulkChangeOf(action, (name) => params.string(name));
    // Deleting what does not exist succeeds (ELB is idempotent) but removes nothing: not counted.
    const named = bulk?.loadBalancers[0];
    const present = named !== undefined && (await opts.store.get("loadBalancer", regionalKey(region, named)));
    if (bulk !== undefined && present) {
      const reserved = await changeControl.bulk.reserve(credential.principal, bulk);
      uncount = () => reserved.release();
      if (reserved.why !== undefined) {
        const use = {
          principal: credential.principal,
          operation: `elasticloadbalancing:${action}`,
          region,
          loadBalancers: bulk.loadBalancers,
        };
        try {
          admission = await changeControl.admit(use, reserved.why, req.headers, requestId);
        } catch (e) {
          await uncount(); // refused: it removes nothing
          throw e;
        }
        if (admission.breakGlass !== undefined) call.breakGlass = admission.breakGlass;
      }
    }
    const ticket =
      admission.ticket ??
      (admission.breakGlass === undefined ? undefined : `break-glass: ${admission.breakGlass}`);
    const meta = {
      principal: credential.principal,
      sourceIp: req.socket.remoteAddress ?? "",
      requestId,
      action,
      ...(ticket === undefined ? {} : { ticket }),
    };
    let result: Awaited<ReturnType<typeof definition.run>>;
    try {
      result = await definition.run({ store: opts.store, params, meta, credential, region, settings });
    } catch (e) {
      await uncount(); // it removed nothing
      throw e;
    }
    return resultDocument(action, result, requestId);
  }
}

function send(res: ServerResponse, status: number, xml: string, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    "Content-Type": "text/xml",
    // The string goes to the socket as it is (converted natively, no Buffer of it in between).
    "Content-Length": Buffer.byteLength(xml, "utf8"),
    "x-amzn-RequestId": requestId,
    // A request refused before its body was read: the rest of it is not read, the connection closes.
    ...(res.req.complete ? {} : { Connection: "close" }),
  });
  res.end(xml, "utf8");
}
