/** CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer. */
import { BallastError } from "../../../model/errors.js";
import {
  buildLoadBalancer,
  type LoadBalancerSpec,
  loadBalancerIdFrom,
  matchesSpec,
} from "../../../model/load-balancer.js";
import type { LoadBalancer } from "../../../model/types.js";
import {
  type ListenerInput,
  requireMembers,
  validateListeners,
  validateLoadBalancerName,
  validatePageSize,
  validateScheme,
  validateTags,
} from "../../../model/validate.js";
import { validateSecurityGroups } from "../../../model/vpc.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { renderedDescription } from "../describe.js";
import { inRegion, loadBalancerKey, putLoadBalancer, requireLoadBalancer } from "../load-balancer-kit.js";
import type { QueryParams } from "../params.js";
import { RegionVpc, storeSubnets, txSubnets } from "../region-vpc.js";
import type { XmlValue } from "../xml.js";
import { assertListenerLimit, limitIn } from "./limits.js";
import { requireCertificates } from "./listeners.js";
import { assertZonesOfRegion } from "./zones.js";

function listenerInput(p: QueryParams): ListenerInput {
  return {
    protocol: p.string("Protocol"),
    loadBalancerPort: p.integer("LoadBalancerPort"),
    instanceProtocol: p.string("InstanceProtocol"),
    instancePort: p.integer("InstancePort"),
    sslCertificateId: p.string("SSLCertificateId"),
  };
}

/**
 * Validates a CreateLoadBalancer request into a spec; every rejection that needs no stored state
 * happens here, before the store. Zones are the request region's (a zone needs no agent).
 */
export function createSpec(params: QueryParams, region: string): LoadBalancerSpec {
  const rawName = params.string("LoadBalancerName");
  const rawListeners = params.structs("Listeners");
  requireMembers({ loadBalancerName: rawName, listeners: rawListeners });
  const name = validateLoadBalancerName(rawName ?? "");
  const listeners = validateListeners((rawListeners ?? []).map(listenerInput));
  // Certificates are looked up in the store, inside the mutation (requireCertificates).

  const availabilityZones = [...new Set(params.strings("AvailabilityZones") ?? [])];
  const subnets = params.strings("Subnets") ?? [];
  // Wire messages as AWS answers them: kubernetes-sigs/cluster-api-provider-aws#1423 and
  // hashicorp/terraform-provider-aws#12635.
  if (availabilityZones.length === 0 && subnets.length === 0)
    throw new BallastError("ValidationError", "Either AvailabilityZones or SubnetIds must be specified");
  if (availabilityZones.length > 0 && subnets.length > 0)
    throw new BallastError("ValidationError", "Only one of SubnetIds or AvailabilityZones may be specified");
  // Subnets resolve through the registry inside the mutation (RegionVpc.place).
  assertZonesOfRegion(availabilityZones, region);
  // Security groups are checked in form and stored; without any, the VPC's default group.
  const securityGroups = validateSecurityGroups(params.strings("SecurityGroups") ?? []);
  const scheme = validateScheme(params.string("Scheme"));
  const tags = validateTags(
    (params.structs("Tags") ?? []).map((t) => ({ key: t.string("Key"), value: t.string("Value") })),
  );
  return { name, scheme, listeners, availabilityZones, subnets, securityGroups, tags };
}

async function createLoadBalancer(ctx: ActionContext): Promise<XmlValue> {
  const { settings, region } = ctx;
  const spec = createSpec(ctx.params, region);
  const { result } = await ctx.store.mutate(ctx.meta, async (tx) => {
    await requireCertificates(tx, spec.listeners);
    const vpc = await RegionVpc.load(txSubnets(tx), region);
    const placed = await vpc.place(spec);
    const existing = await tx.get("loadBalancer", loadBalancerKey(region, spec.name));
    if (existing) {
      if (matchesSpec(vpc.view(existing), placed)) return existing.dnsName;
      throw new BallastError(
        "DuplicateLoadBalancerName",
        `Load Balancer named '${spec.name}' already exists and it is configured with different parameters.`,
      );
    }
    const maxLoadBalancers = await limitIn(ctx, tx, "classic-load-balancers");
    const count = inRegion(await tx.list("loadBalancer"), region).length;
    if (count >= maxLoadBalancers)
      throw new BallastError(
        "TooManyLoadBalancers",
        `Exceeded quota of account: at most ${maxLoadBalancers} load balancers (classic-load-balancers)`,
      );
    assertListenerLimit(placed.listeners.length, await limitIn(ctx, tx, "classic-listeners"));
    const lb = buildLoadBalancer(
      placed,
      { id: loadBalancerIdFrom(settings.randomBytes(10)), createdTime: settings.now().toISOString() },
      { region, dnsDomain: settings.dnsDomain },
    );
    putLoadBalancer(tx, lb);
    return lb.dnsName;
  });
  return { DNSName: result };
}

/** Markers are opaque to clients: the base64url of the last name of the previous page. */
function decodeMarker(marker: string | undefined): string | undefined {
  if (marker === undefined || marker === "") return undefined;
  const name = Buffer.from(marker, "base64url").toString("utf8");
  if (Buffer.from(name, "utf8").toString("base64url") !== marker)
    throw new BallastError("ValidationError", "Invalid Marker");
  return name;
}

async function describeLoadBalancers(ctx: ActionContext): Promise<XmlValue> {
  const names = ctx.params.strings("LoadBalancerNames") ?? [];
  const pageSize = validatePageSize(ctx.params.integer("PageSize"));
  const after = decodeMarker(ctx.params.string("Marker"));

  let selected: LoadBalancer[];
  if (names.length > 0) {
    // By name: read only those, so a call's cost does not grow with the number of load balancers.
    // In order, so the first missing name is the one reported.
    selected = [];
    for (const n of new Set(names)) selected.push(await requireLoadBalancer(ctx, n));
  } else {
    selected = inRegion(
      (await ctx.store.list("loadBalancer")).map((c) => c.doc),
      ctx.region,
    );
  }
  selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const start = after === undefined ? selected : selected.filter((lb) => lb.name > after);
  const page = start.slice(0, pageSize);
  const last = page.at(-1);
  const more = start.length > page.length && last !== undefined;
  const vpc = await RegionVpc.load(storeSubnets(ctx.store), ctx.region);
  return {
    LoadBalancerDescriptions: page.map((lb) => renderedDescription(lb, vpc)),
    NextMarker: more ? Buffer.from(last.name, "utf8").toString("base64url") : undefined,
  };
}

async function deleteLoadBalancer(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  requireMembers({ loadBalancerName: name });
  // Deleting a load balancer that does not exist succeeds and appends no revision (API docs).
  const key = loadBalancerKey(ctx.region, name ?? "");
  await ctx.store.mutate(ctx.meta, async (tx) => {
    if (await tx.get("loadBalancer", key)) tx.delete("loadBalancer", key);
  });
  return {};
}

export const loadBalancerActions: Readonly<Record<string, ActionDefinition>> = {
  CreateLoadBalancer: { mutates: true, run: createLoadBalancer },
  DescribeLoadBalancers: { mutates: false, run: describeLoadBalancers },
  DeleteLoadBalancer: { mutates: true, run: deleteLoadBalancer },
};
