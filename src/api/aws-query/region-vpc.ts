/**
 * The VPC side of a request's region: its default VPC (model/default-vpc.ts), the subnets a
 * request may name — the registry's subnets in the region's zones and the region's default
 * subnets — and how a load balancer is placed in them. Every Classic Load Balancer is in a VPC:
 * one created with AvailabilityZones goes into the default subnets of the default VPC.
 */
import { type DefaultVpc, defaultSecurityGroupId, defaultVpc } from "../../model/default-vpc.js";
import { BallastError } from "../../model/errors.js";
import type { LoadBalancerSpec } from "../../model/load-balancer.js";
import { ACCOUNT_ID, isZoneOf } from "../../model/region.js";
import type { LoadBalancer, Subnet } from "../../model/types.js";
import { subnetPlacement } from "../../model/vpc.js";
import type { MutationTx, Store } from "../../store/store.js";

/** Where the subnet registry is read from: a mutation's transaction or the store. */
export interface SubnetReader {
  get(id: string): Promise<Subnet | undefined>;
  list(): Promise<readonly Subnet[]>;
}

const ZONE_LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** Default VPCs by fingerprint: each is a few SHA-256s to derive, and rarely changes. */
const DEFAULT_VPCS = new Map<string, DefaultVpc>();

export class RegionVpc {
  readonly region: string;
  /**
   * Everything the default VPC is derived from (the region and its registered default subnets):
   * equal fingerprints, equal `view`s of a load balancer.
   */
  readonly fingerprint: string;
  readonly #default: DefaultVpc;
  readonly #reader: SubnetReader;

  private constructor(region: string, fingerprint: string, dv: DefaultVpc, reader: SubnetReader) {
    this.region = region;
    this.fingerprint = fingerprint;
    this.#default = dv;
    this.#reader = reader;
  }

  static async load(reader: SubnetReader, region: string): Promise<RegionVpc> {
    const defaults = (await reader.list()).filter((s) => s.defaultForAz === true && isZoneOf(s.zone, region));
    const fingerprint = [region, ...defaults.map((s) => `${s.subnetId} ${s.zone} ${s.vpcId}`).sort()].join(
      "\n",
    );
    let dv = DEFAULT_VPCS.get(fingerprint);
    if (dv === undefined) {
      dv = defaultVpc(region, defaults);
      if (DEFAULT_VPCS.size >= 100) DEFAULT_VPCS.clear();
      DEFAULT_VPCS.set(fingerprint, dv);
    }
    return new RegionVpc(region, fingerprint, dv, reader);
  }

  get defaultVpcId(): string {
    return this.#default.vpcId;
  }

  /** The default subnet of a zone of the region. */
  defaultSubnet(zone: string): Subnet {
    return { subnetId: this.#default.subnetFor(zone), zone, vpcId: this.#default.vpcId, defaultForAz: true };
  }

  /** A subnet of the region by id: the registry's (in one of the region's zones), else a default subnet. */
  async subnet(id: string): Promise<Subnet | undefined> {
    const registered = await this.#reader.get(id);
    if (registered) return isZoneOf(registered.zone, this.region) ? registered : undefined;
    for (const letter of ZONE_LETTERS) {
      const zone = `${this.region}${letter}`;
      if (this.#default.subnetFor(zone) === id) return this.defaultSubnet(zone);
    }
    return undefined;
  }

  /** Every id resolved; any unknown one (or one of another region) is SubnetNotFound for the whole call. */
  async resolve(ids: readonly string[]): Promise<Subnet[]> {
    const found: Subnet[] = [];
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const subnet = await this.subnet(id);
      if (subnet) found.push(subnet);
      else missing.push(id);
    }
    if (missing.length > 0)
      throw new BallastError(
        "SubnetNotFound",
        `One or more subnets could not be found: ${missing.join(", ")}`,
      );
    return found;
  }

  /**
   * A CreateLoadBalancer spec placed: with Subnets, their zones and VPC; with AvailabilityZones,
   * the default subnet of each zone in the default VPC. Without security groups, the VPC's default.
   */
  async place(spec: LoadBalancerSpec): Promise<LoadBalancerSpec> {
    const subnets =
      spec.subnets.length > 0
        ? await this.resolve(spec.subnets)
        : spec.availabilityZones.map((z) => this.defaultSubnet(z));
    const placement = subnetPlacement(subnets);
    const securityGroups =
      spec.securityGroups.length > 0 ? spec.securityGroups : [defaultSecurityGroupId(placement.vpcId)];
    return { ...spec, ...placement, securityGroups };
  }

  /**
   * A load balancer as it is in a VPC. One stored before every load balancer was (no `vpcId`) is
   * in the default VPC: the default subnet of each of its zones, the default security group when
   * it has none.
   */
  view(lb: LoadBalancer): LoadBalancer {
    if (lb.vpcId !== undefined) return lb;
    return {
      ...lb,
      vpcId: this.#default.vpcId,
      subnets: lb.availabilityZones.map((z) => this.#default.subnetFor(z)),
      securityGroups:
        lb.securityGroups.length > 0 ? lb.securityGroups : [defaultSecurityGroupId(this.#default.vpcId)],
    };
  }
}

/**
 * DescribeLoadBalancers' SourceSecurityGroup: for a load balancer in a VPC, its first security
 * group, owned by the account; the default group's name is `default` (Ballast knows no other names).
 */
export function sourceSecurityGroup(lb: LoadBalancer): { OwnerAlias: string; GroupName: string } {
  const first = lb.securityGroups[0];
  const isDefault = lb.vpcId !== undefined && first === defaultSecurityGroupId(lb.vpcId);
  return { OwnerAlias: ACCOUNT_ID, GroupName: isDefault || first === undefined ? "default" : first };
}

/** The registry as a mutation sees it. */
export function txSubnets(tx: MutationTx): SubnetReader {
  return { get: (id) => tx.get("subnet", id), list: () => tx.list("subnet") };
}

/** The registry as committed. */
export function storeSubnets(store: Store): SubnetReader {
  return {
    get: async (id) => (await store.get("subnet", id))?.doc,
    list: async () => (await store.list("subnet")).map((c) => c.doc),
  };
}
