/**
 * The admin JSON API for the subnet registry and the account limits. Ballast has no EC2, so each
 * subnet a load balancer may use is declared here with its zone and VPC; limits are what
 * DescribeAccountLimits reports and the ELB API enforces. Writes are journal revisions; a delete
 * is a tombstone.
 *
 *   GET    /admin/v1/subnets[?region=R]   → { subnets: Subnet[] }
 *   GET    /admin/v1/subnets/{id}         → { subnet: Subnet }
 *   PUT    /admin/v1/subnets/{id}         { zone, vpcId, cidrBlock?, defaultForAz? } → { subnet: Subnet }
 *   DELETE /admin/v1/subnets/{id}         → { deleted: id }   (409 while a load balancer uses it)
 *   GET    /admin/v1/limits[?region=R]    → { region, limits: [{ name, max, default }] }
 *   PUT    /admin/v1/limits/{name}[?region=R]    { max } → { limit: Limit }
 *   DELETE /admin/v1/limits/{name}[?region=R]    → { deleted: name }  (back to the default)
 *
 * A subnet's zone names its region. Limits are per region: `?region=`, else the region of the
 * request's credential scope (`ballast limits … --region R` signs for R).
 */
import { BallastError } from "../../model/errors.js";
import { DEFAULT_LIMITS, isLimitName, LIMIT_NAMES, validateLimitMax } from "../../model/limits.js";
import { DEFAULT_REGION, isZoneOf, regionalKey, validateZoneName } from "../../model/region.js";
import type { Credential, Limit, Subnet } from "../../model/types.js";
import { isIPv4Cidr, isSubnetId, isVpcId } from "../../model/vpc.js";
import type { RevisionMeta, Store } from "../../store/store.js";

const SUBNETS = "/admin/v1/subnets";
const LIMITS = "/admin/v1/limits";

type Json = Readonly<Record<string, unknown>>;

export interface RegistryCall {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
  readonly credential: Credential;
  readonly meta: Omit<RevisionMeta, "action">;
  /** The region limits are read and set in: `?region=`, else the credential scope's. */
  readonly region: string;
  /** `?region=` when given: subnets are listed for that region only. */
  readonly filterRegion: string | undefined;
}

export function isRegistryPath(path: string): boolean {
  return [SUBNETS, LIMITS].some((p) => path === p || path.startsWith(`${p}/`));
}

export function createRegistryRoutes(opts: { readonly store: Store }): (call: RegistryCall) => Promise<Json> {
  const { store } = opts;
  return async (call) => {
    const { method, path } = call;
    if (method !== "GET" && call.credential.role === "reader")
      throw new BallastError(
        "AccessDenied",
        `User: ${call.credential.principal} is not authorized to change the registry`,
      );
    const collection = path.startsWith(SUBNETS) ? SUBNETS : LIMITS;
    const id = member(path, collection);
    if (collection === SUBNETS) {
      if (id === undefined && method === "GET") {
        const all = (await store.list("subnet")).map((c) => c.doc);
        const region = call.filterRegion;
        return { subnets: region === undefined ? all : all.filter((s) => isZoneOf(s.zone, region)) };
      }
      if (id !== undefined) {
        if (!isSubnetId(id))
          throw new BallastError(
            "ValidationError",
            "A subnet id is 'subnet-' and 8 or 17 hexadecimal digits",
          );
        if (method === "GET") return { subnet: await getSubnet(id) };
        if (method === "PUT") return { subnet: await putSubnet(call, parseSubnet(call.body, id)) };
        if (method === "DELETE") return deleteSubnet(call, id);
      }
    } else {
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
    }
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };

  async function getSubnet(id: string): Promise<Subnet> {
    const found = await store.get("subnet", id);
    if (!found) throw new BallastError("NotFound", `Subnet ${id} is not in the registry`);
    return found.doc;
  }

  /** A subnet in use may not move to another zone or VPC: its load balancers' placement would change by inference. */
  async function putSubnet(call: RegistryCall, subnet: Subnet): Promise<Subnet> {
    await store.mutate({ ...call.meta, action: "PutSubnet" }, async (tx) => {
      const old = await tx.get("subnet", subnet.subnetId);
      if (old && (old.zone !== subnet.zone || old.vpcId !== subnet.vpcId)) {
        const users = await usersOf(tx.list("loadBalancer"), subnet.subnetId);
        if (users.length > 0)
          throw new BallastError(
            "InvalidConfigurationRequest",
            `Subnet ${subnet.subnetId} is used by load balancers ${users.join(", ")}; its zone and VPC cannot change`,
          );
      }
      if (JSON.stringify(old) !== JSON.stringify(subnet)) tx.put("subnet", subnet.subnetId, subnet);
    });
    return subnet;
  }

  async function deleteSubnet(call: RegistryCall, id: string): Promise<Json> {
    await store.mutate({ ...call.meta, action: "DeleteSubnet" }, async (tx) => {
      if (!(await tx.get("subnet", id)))
        throw new BallastError("NotFound", `Subnet ${id} is not in the registry`);
      const users = await usersOf(tx.list("loadBalancer"), id);
      if (users.length > 0)
        throw new BallastError(
          "InvalidConfigurationRequest",
          `Subnet ${id} is used by load balancers ${users.join(", ")}; detach it first`,
        );
      tx.delete("subnet", id);
    });
    return { deleted: id };
  }

  async function listLimits(region: string): Promise<Json[]> {
    const out: Json[] = [];
    for (const name of LIMIT_NAMES) {
      const set = (await store.get("limit", regionalKey(region, name)))?.doc;
      out.push({ name, max: set?.max ?? DEFAULT_LIMITS[name], default: DEFAULT_LIMITS[name] });
    }
    return out;
  }

  /** Lowering a limit below what exists removes nothing: it stops further growth, as an AWS quota does. */
  async function putLimit(call: RegistryCall, limit: Limit): Promise<Limit> {
    const key = regionalKey(limit.region ?? DEFAULT_REGION, limit.name);
    await store.mutate({ ...call.meta, action: "PutLimit" }, async (tx) => {
      if ((await tx.get("limit", key))?.max !== limit.max) tx.put("limit", key, limit);
    });
    return limit;
  }

  async function deleteLimit(call: RegistryCall, name: string): Promise<Json> {
    const key = regionalKey(call.region, name);
    await store.mutate({ ...call.meta, action: "DeleteLimit" }, async (tx) => {
      if (await tx.get("limit", key)) tx.delete("limit", key);
    });
    return { deleted: name };
  }
}

async function usersOf(
  loadBalancers: Promise<readonly { readonly name: string; readonly subnets: readonly string[] }[]>,
  subnetId: string,
): Promise<string[]> {
  return (await loadBalancers).filter((lb) => lb.subnets.includes(subnetId)).map((lb) => lb.name);
}

/** The decoded `{id}` below a collection; undefined for the collection itself. */
function member(path: string, collection: string): string | undefined {
  const rest = path.slice(collection.length).replace(/^\/+/, "").replace(/\/+$/, "");
  if (rest === "") return undefined;
  if (rest.includes("/")) throw new BallastError("NotFound", `No such resource: ${path}`);
  try {
    return decodeURIComponent(rest);
  } catch {
    throw new BallastError("ValidationError", "The resource id is not valid percent-encoding");
  }
}

function jsonObject(body: Buffer, shape: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BallastError("ValidationError", "The request body is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new BallastError("ValidationError", `The request body must be a JSON object ${shape}`);
  return doc as Record<string, unknown>;
}

/** A subnet of the registry: its zone (any zone of any region: the zone names the region) and VPC. */
export function parseSubnet(body: Buffer, subnetId: string): Subnet {
  const {
    zone: rawZone,
    vpcId,
    cidrBlock,
    defaultForAz,
  } = jsonObject(body, "{zone, vpcId, cidrBlock?, defaultForAz?}");
  const zone = validateZoneName(rawZone);
  if (typeof vpcId !== "string" || !isVpcId(vpcId))
    throw new BallastError(
      "InvalidParameterValue",
      `vpcId must be 'vpc-' and 8 or 17 hexadecimal digits, got ${JSON.stringify(vpcId)}`,
    );
  if (cidrBlock !== undefined && (typeof cidrBlock !== "string" || !isIPv4Cidr(cidrBlock)))
    throw new BallastError(
      "InvalidParameterValue",
      `cidrBlock must be an IPv4 CIDR block, got ${JSON.stringify(cidrBlock)}`,
    );
  if (defaultForAz !== undefined && typeof defaultForAz !== "boolean")
    throw new BallastError(
      "InvalidParameterValue",
      `defaultForAz must be true or false, got ${JSON.stringify(defaultForAz)}`,
    );
  return {
    subnetId,
    zone,
    vpcId,
    ...(cidrBlock === undefined ? {} : { cidrBlock }),
    ...(defaultForAz === true ? { defaultForAz } : {}),
  };
}

function parseMax(body: Buffer): number {
  return validateLimitMax(jsonObject(body, "{max}").max);
}
