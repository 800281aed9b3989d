/**
 * The admin JSON API of the subnet registry. Ballast has no EC2, so each subnet a load balancer
 * may use is declared here with its zone and VPC. Writes are journal revisions; a delete is a
 * tombstone.
 *
 *   GET    /admin/v1/subnets[?region=R]   → { subnets: Subnet[] }
 *   GET    /admin/v1/subnets/{id}         → { subnet: Subnet }
 *   PUT    /admin/v1/subnets/{id}         { zone, vpcId, cidrBlock?, defaultForAz? } → { subnet: Subnet }
 *
 * A subnet's zone names its region.
 *   DELETE /admin/v1/subnets/{id}         → { deleted: id }   (409 while a load balancer uses it)
 */
import { BallastError } from "../../model/errors.js";
import { isZoneOf, validateZoneName } from "../../model/region.js";
import type { Subnet } from "../../model/types.js";
import { isIPv4Cidr, isSubnetId, isVpcId } from "../../model/vpc.js";
import type { Store } from "../../store/store.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject, member } from "./common.js";

const SUBNETS = `${ADMIN_PREFIX}/subnets`;

export function isSubnetsPath(path: string): boolean {
  return isBelow(path, SUBNETS);
}

export function createSubnetRoutes(opts: { readonly store: Store }): (call: AdminCall) => Promise<Json> {
  const { store } = opts;
  return async (call) => {
    const { method, path } = call;
    const id = member(path, SUBNETS);
    if (id === undefined && method === "GET") {
      const all = (await store.list("subnet")).map((c) => c.doc);
      const region = call.filterRegion;
      return { subnets: region === undefined ? all : all.filter((s) => isZoneOf(s.zone, region)) };
    }
    if (id !== undefined) {
      if (!isSubnetId(id))
        throw new BallastError("ValidationError", "A subnet id is 'subnet-' and 8 or 17 hexadecimal digits");
      if (method === "GET") return { subnet: await getSubnet(id) };
      if (method === "PUT") return { subnet: await putSubnet(call, parseSubnet(call.body, id)) };
      if (method === "DELETE") return deleteSubnet(call, id);
    }
    throw new BallastError("NotFound", `No route for ${method} ${path}`);
  };

  async function getSubnet(id: string): Promise<Subnet> {
    const found = await store.get("subnet", id);
    if (!found) throw new BallastError("NotFound", `Subnet ${id} is not in the registry`);
    return found.doc;
  }

  /** A subnet in use may not move to another zone or VPC: its load balancers' placement would change by inference. */
  async function putSubnet(call: AdminCall, subnet: Subnet): Promise<Subnet> {
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

  async function deleteSubnet(call: AdminCall, id: string): Promise<Json> {
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
}

async function usersOf(
  loadBalancers: Promise<readonly { readonly name: string; readonly subnets: readonly string[] }[]>,
  subnetId: string,
): Promise<string[]> {
  return (await loadBalancers).filter((lb) => lb.subnets.includes(subnetId)).map((lb) => lb.name);
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
