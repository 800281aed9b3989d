/**
 * The admin JSON API of the instance inventory (instance id → address and zone). Writes are
 * journal revisions like any other; a delete is a tombstone.
 *
 *   GET    /admin/v1/instances[?region=R] → { instances: Instance[] }
 *   GET    /admin/v1/instances/{id}     → { instance: Instance }
 *   PUT    /admin/v1/instances/{id}     { address, zone } → { instance: Instance }
 *   DELETE /admin/v1/instances/{id}     → { deleted: id }
 */
import { isIP } from "node:net";
import { BallastError } from "../../model/errors.js";
import { isZoneOf, validateZoneName } from "../../model/region.js";
import type { Instance } from "../../model/types.js";
import type { Store } from "../../store/store.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject } from "./common.js";

const INSTANCES = `${ADMIN_PREFIX}/instances`;
const INSTANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isInstancesPath(path: string): boolean {
  return isBelow(path, INSTANCES);
}

export function createInstanceRoutes(opts: { readonly store: Store }): (call: AdminCall) => Promise<Json> {
  const { store } = opts;
  return async (call) => {
    const { method, path } = call;
    const id = routeInstanceId(path);
    if (id === undefined) throw new BallastError("NotFound", `No such resource: ${path}`);
    if (id === null) {
      if (method === "GET") {
        const all = (await store.list("instance")).map((c) => c.doc);
        const region = call.filterRegion;
        return { instances: region === undefined ? all : all.filter((i) => isZoneOf(i.zone, region)) };
      }
    } else if (method === "GET") return getInstance(id);
    else if (method === "PUT") return putInstance(call, id);
    else if (method === "DELETE") return deleteInstance(call, id);
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };

  async function getInstance(id: string): Promise<Json> {
    const found = await store.get("instance", id);
    if (!found) throw new BallastError("NotFound", `Instance ${id} is not in the inventory`);
    return { instance: found.doc };
  }

  async function putInstance(call: AdminCall, id: string): Promise<Json> {
    const instance = parseInstance(call.body, id);
    await store.mutate({ ...call.meta, action: "PutInstance" }, async (tx) => {
      tx.put("instance", id, instance);
    });
    return { instance };
  }

  /**
   * Removal is explicit (design principle 3): an instance still registered with a load balancer
   * cannot leave the inventory, or its back ends would vanish from agents by inference.
   */
  async function deleteInstance(call: AdminCall, id: string): Promise<Json> {
    await store.mutate({ ...call.meta, action: "DeleteInstance" }, async (tx) => {
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
  if (path === INSTANCES || path === `${INSTANCES}/`) return null;
  if (!path.startsWith(`${INSTANCES}/`)) return undefined;
  const raw = path.slice(INSTANCES.length + 1);
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
  const { address, zone } = jsonObject(body, "{address, zone}");
  if (typeof address !== "string" || isIP(address) === 0)
    throw new BallastError(
      "InvalidParameterValue",
      `address must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`,
    );
  return { instanceId, address, zone: validateZoneName(zone) };
}
