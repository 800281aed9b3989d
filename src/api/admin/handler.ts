/**
 * The admin JSON API for the instance inventory (instance id → address and zone), signed with
 * SigV4 like the ELB API. Writes are journal revisions like any other; a delete is a tombstone.
 *
 *   GET    /admin/v1/instances          → { instances: Instance[] }
 *   GET    /admin/v1/instances/{id}     → { instance: Instance }
 *   PUT    /admin/v1/instances/{id}     { address, zone } → { instance: Instance }
 *   DELETE /admin/v1/instances/{id}     → { deleted: id }
 *
 * `/admin/v1/state/…` (the journal: history, show, diff, restore, verify, export/import,
 * backups) is delegated to state.ts after authentication, `/admin/v1/certificates…` to certificates.ts,
 * `/admin/v1/subnets…` and `/admin/v1/limits…` (subnet registry, account limits) to registry.ts.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { BallastError, isBallastError } from "../../model/errors.js";
import { isZoneOf, validateRegion, validateZoneName } from "../../model/region.js";
import type { Credential, Instance } from "../../model/types.js";
import type { RevisionMeta, Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import type { Authenticator } from "../auth/authenticator.js";
import { readBody } from "../aws-query/body.js";
import { createCertificateRoutes, isCertificatesPath } from "./certificates.js";
import { createRegistryRoutes, isRegistryPath } from "./registry.js";
import { createStateRoutes, IMPORT_MAX_BODY_BYTES, isStatePath, STATE_PREFIX } from "./state.js";

export const ADMIN_PREFIX = "/admin/v1";
const MAX_BODY_BYTES = 64 * 1024;
const INSTANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AdminHandlerOptions {
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  /** Where state backups live (the state routes list and create them there). */
  readonly backupDir?: string;
  /** Days of history a journal compaction never removes (the state routes' default: 90). */
  readonly retentionDays?: number;
}

interface AdminRequest {
  readonly method: string;
  readonly id: string | undefined;
  readonly body: Buffer;
  readonly credential: Credential;
  readonly meta: Omit<RevisionMeta, "action">;
  /** `?region=`: list only the instances of that region's zones. */
  readonly region: string | undefined;
}

type Json = Readonly<Record<string, unknown>>;

export function createAdminHandler(
  opts: AdminHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logger = opts.logger.child({ component: "admin-api" });
  const certificates = createCertificateRoutes({ store: opts.store });
  const registry = createRegistryRoutes({ store: opts.store });
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
    if (isStatePath(path)) {
      const route = path.slice(STATE_PREFIX.length);
      await state({ method, route, query, body, accept: req.headers.accept, credential, meta }, res);
      return undefined;
    }
    if (isRegistryPath(path))
      return registry({
        method,
        path,
        body,
        credential,
        meta,
        region: filterRegion ?? auth.region,
        filterRegion,
      });
    if (isCertificatesPath(path)) return certificates({ method, path, body, credential, meta });
    const id = routeInstanceId(path);
    const request: AdminRequest = {
      method,
      id: id === null ? undefined : id,
      body,
      credential,
      meta,
      region: filterRegion,
    };
    if (id === undefined) throw new BallastError("NotFound", `No such resource: ${path}`);
    if (method !== "GET" && credential.role === "reader")
      throw new BallastError(
        "AccessDenied",
        `User: ${credential.principal} is not authorized to change the inventory`,
      );
    if (id === null) {
      if (method === "GET") {
        const all = (await opts.store.list("instance")).map((c) => c.doc);
        const region = request.region;
        return { instances: region === undefined ? all : all.filter((i) => isZoneOf(i.zone, region)) };
      }
    } else if (method === "GET") return getInstance(id);
    else if (method === "PUT") return putInstance(request, id);
    else if (method === "DELETE") return deleteInstance(request, id);
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  }

  async function getInstance(id: string): Promise<Json> {
    const found = await opts.store.get("instance", id);
    if (!found) throw new BallastError("NotFound", `Instance ${id} is not in the inventory`);
    return { instance: found.doc };
  }

  async function putInstance(req: AdminRequest, id: string): Promise<Json> {
    const instance = parseInstance(req.body, id);
    await opts.store.mutate({ ...req.meta, action: "PutInstance" }, async (tx) => {
      tx.put("instance", id, instance);
    });
    return { instance };
  }

  /**
   * Removal is explicit (design principle 3): an instance still registered with a load balancer
   * cannot leave the inventory, or its back ends would vanish from agents by inference.
   */
  async function deleteInstance(req: AdminRequest, id: string): Promise<Json> {
    await opts.store.mutate({ ...req.meta, action: "DeleteInstance" }, async (tx) => {
      if (!(await tx.get("instance", id)))
        throw new BallastError("NotFound", `Instance ${id} is not in the inventory`);
      const users = (await tx.list("loadBalancer"))
        .filter((lb) => lb.instances.includes(id))
        .map((lb) => lb.name);
      if (users.length > 0)
        throw new BallastError(
          "InvalidConfigurationRequest",
          `Instance ${id} is registered with load balancers ${users.join(", ")}; deregister it first`,
        );
      tx.delete("instance", id);
    });
    return { deleted: id };
  }
}

/** `null` for the collection, the decoded id for one instance, undefined for any other path. */
function routeInstanceId(path: string): string | null | undefined {
  const collection = `${ADMIN_PREFIX}/instances`;
  if (path === collection || path === `${collection}/`) return null;
  if (!path.startsWith(`${collection}/`)) return undefined;
  const raw = path.slice(collection.length + 1);
  if (raw.includes("/")) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new BallastError("ValidationError", "The instance id is not valid percent-encoding");
  }
  if (!INSTANCE_ID.test(id))
    throw new BallastError(
      "ValidationError",
      "An instance id is 1 to 128 letters, digits, dots, underscores, colons or hyphens",
    );
  return id;
}

/** An instance of the inventory: an address and the Availability Zone it is in (which names its region). */
export function parseInstance(body: Buffer, instanceId: string): Instance {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BallastError("ValidationError", "The request body is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new BallastError("ValidationError", "The request body must be a JSON object {address, zone}");
  const { address, zone } = doc as Record<string, unknown>;
  if (typeof address !== "string" || isIP(address) === 0)
    throw new BallastError(
      "InvalidParameterValue",
      `address must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`,
    );
  return { instanceId, address, zone: validateZoneName(zone) };
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
