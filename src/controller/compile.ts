/**
 * The config compiler: turns the journal into the document one zone's agents run. It states
 * everything the zone should serve and, separately, every explicit removal since the revision
 * the agent already has — each tied to the journal revision that made it (principle 3).
 *
 * A delta document (for an agent that asks for one and whose revision the journal still knows)
 * states only the load balancers whose resolved node spec may have changed since that revision:
 * those the journal touched since (the load balancer itself or its placement), and those that
 * register an instance or use a certificate the journal touched (found through a ReferenceIndex,
 * so a delta never lists the store). Removals are the same as in a full document.
 */
import type { AgentConfig, Removal } from "../model/agent-protocol.js";
import { backendOf } from "../model/instances.js";
import type { Backend, NodeSpec } from "../model/node-spec.js";
import { type CertificateSource, resolveNode } from "../model/resolve-node.js";
import { type Certificate, entityKey, type Instance, type LoadBalancer } from "../model/types.js";
import type { Store } from "../store/store.js";
import type { ReferenceIndex } from "./references.js";

/** What the agent asked for, beyond its zone and revision. */
export interface CompileOptions {
  /** The agent's name, under placement (see compileAgentConfig). */
  readonly agent?: string;
  /** The agent understands delta documents; with `references`, it gets one when it can. */
  readonly delta?: boolean;
  readonly references?: ReferenceIndex;
}

/**
 * The document for an agent of `zone` at revision `have`: a delta when the agent asks for one,
 * already has a revision (`have` > 0), and the journal still holds every version since `have`;
 * else the full document (first contact, a compaction past `have`, an agent ahead of the journal,
 * or an agent of an earlier version that does not ask).
 */
export async function compileFor(
  store: Store,
  zone: string,
  have: number,
  opts: CompileOptions = {},
): Promise<AgentConfig> {
  if (opts.delta === true && opts.references !== undefined && have > 0) {
    const [revision, compacted] = await Promise.all([store.head(), store.compactedThrough()]);
    if (have >= compacted && have <= revision)
      return compileDelta(store, zone, have, revision, opts.agent, opts.references);
  }
  return compileAgentConfig(store, zone, have, opts.agent);
}

/**
 * With `agent`, the document of that one agent: only the load balancers placement puts on it
 * (controller/fleet.ts), and a `moved` removal for each that placement took away from it. Without
 * it, every load balancer of the zone (an agent that does not say who it is: one version behind).
 */
export async function compileAgentConfig(
  store: Store,
  zone: string,
  have: number,
  agent?: string,
): Promise<AgentConfig> {
  const revision = await store.head();
  const [lbs, inventory, certificates, placements] = await Promise.all([
    store.list("loadBalancer"),
    store.list("instance"),
    store.list("certificate"),
    agent === undefined ? Promise.resolve([]) : store.list("placement"),
  ]);
  const placed = new Set<string>();
  for (const { doc } of placements)
    if (doc.nodes[zone]?.includes(agent as string)) placed.add(doc.loadBalancer);
  const inventoryOf = new Map<string, Instance>();
  for (const { doc } of inventory) inventoryOf.set(doc.instanceId, doc);
  const certificateOf = new Map<string, Certificate>();
  for (const { doc } of certificates) certificateOf.set(doc.arn, doc);

  const loadBalancers: NodeSpec[] = [];
  for (const { revision, doc } of lbs) {
    if (!doc.availabilityZones.includes(zone)) continue;
    if (agent !== undefined && !placed.has(entityKey("loadBalancer", doc))) continue;
    loadBalancers.push(nodeSpec(doc, revision, inventoryOf, certificateOf));
  }
  // History before a compaction is gone: an agent from before it gets the removals from there on,
  // and keeps (reporting it as unexplained) whatever was removed earlier.
  const from = Math.max(have, await store.compactedThrough());
  const removals = have > 0 && from < revision ? await removalsSince(store, zone, from, revision, agent) : [];
  return { format: 2, revision, zone, loadBalancers, removals };
}

/** The delta from `have` to `revision` (see the module comment); `have` must not be compacted away. */
export async function compileDelta(
  store: Store,
  zone: string,
  have: number,
  revision: number,
  agent: string | undefined,
  references: ReferenceIndex,
): Promise<AgentConfig> {
  const touched = new Set<string>();
  const instances = new Set<string>();
  const certificates = new Set<string>();
  const versions = await store.changes(have, revision);
  for (const v of versions) {
    if (v.kind === "loadBalancer" || v.kind === "placement") touched.add(v.key);
    else if (v.kind === "instance") instances.add(v.key);
    else if (v.kind === "certificate") certificates.add(v.key);
  }
  if (instances.size > 0 || certificates.size > 0) {
    await references.catchUp(revision);
    for (const id of instances) for (const key of references.loadBalancersOfInstance(id)) touched.add(key);
    for (const arn of certificates)
      for (const key of references.loadBalancersOfCertificate(arn)) touched.add(key);
  }
  const loadBalancers: NodeSpec[] = [];
  for (const key of [...touched].sort()) {
    const current = await store.get("loadBalancer", key);
    if (current === undefined || !current.doc.availabilityZones.includes(zone)) continue;
    if (agent !== undefined && !(await store.get("placement", key))?.doc.nodes[zone]?.includes(agent))
      continue;
    const lb = current.doc;
    const inventoryOf = new Map<string, Instance>();
    for (const id of new Set(lb.instances)) {
      const i = (await store.get("instance", id))?.doc;
      if (i !== undefined) inventoryOf.set(id, i);
    }
    const certificateOf = new Map<string, Certificate>();
    for (const arn of new Set(
      lb.listeners.flatMap((l) => (l.sslCertificateId ? [l.sslCertificateId] : [])),
    )) {
      const c = (await store.get("certificate", arn))?.doc;
      if (c !== undefined) certificateOf.set(arn, c);
    }
    loadBalancers.push(nodeSpec(lb, current.revision, inventoryOf, certificateOf));
  }
  const removals = have < revision ? await removalsSince(store, zone, have, revision, agent) : [];
  return { format: 2, revision, zone, loadBalancers, removals, delta: { from: have } };
}

/**
 * How many load balancers a full document for this agent would state: the blast-radius guard
 * measures a delta's removals against it (a delta states only what changed). Lists the store,
 * so it is asked only for a delta that removes several load balancers.
 */
export async function statedLoadBalancers(store: Store, zone: string, agent?: string): Promise<number> {
  const [lbs, placements] = await Promise.all([
    store.list("loadBalancer"),
    agent === undefined ? Promise.resolve([]) : store.list("placement"),
  ]);
  const placed = new Set<string>();
  for (const { doc } of placements)
    if (doc.nodes[zone]?.includes(agent as string)) placed.add(doc.loadBalancer);
  let n = 0;
  for (const { doc } of lbs) {
    if (!doc.availabilityZones.includes(zone)) continue;
    if (agent !== undefined && !placed.has(entityKey("loadBalancer", doc))) continue;
    n++;
  }
  return n;
}

function nodeSpec(
  lb: LoadBalancer,
  revision: number,
  inventoryOf: ReadonlyMap<string, Instance>,
  certificateOf: ReadonlyMap<string, Certificate>,
): NodeSpec {
  const backends: Backend[] = [];
  for (const id of lb.instances) {
    const b = backendOf(id, inventoryOf.get(id), lb);
    if (b) backends.push(b);
  }
  const certificates: CertificateSource[] = [];
  for (const arn of new Set(lb.listeners.flatMap((l) => (l.sslCertificateId ? [l.sslCertificateId] : [])))) {
    const c = certificateOf.get(arn);
    if (c) {
      certificates.push({
        arn,
        certificateBody: c.certificateBody,
        privateKey: c.privateKey,
        ...(c.certificateChain ? { certificateChain: c.certificateChain } : {}),
      });
    }
  }
  return resolveNode({ ...lb, revision, backends, certificates });
}

/**
 * What left this zone between revision `from` and `to`, read from the journal: a load balancer
 * deleted or moved out of the zone, a listener deleted, an instance deregistered.
 */
async function removalsSince(
  store: Store,
  zone: string,
  from: number,
  to: number,
  agent: string | undefined,
): Promise<Removal[]> {
  const touched = new Set<string>();
  for (const v of await store.changes(from, to))
    if (v.kind === "loadBalancer" || (agent !== undefined && v.kind === "placement")) touched.add(v.key);
  // On this agent at revision r: the load balancer is in the zone and (per agent) placed on it.
  const onAgent = async (key: string, r: number, lb: LoadBalancer | undefined): Promise<boolean> => {
    if (!lb?.availabilityZones.includes(zone)) return false;
    if (agent === undefined) return true;
    return (await store.getAt("placement", key, r))?.doc.nodes[zone]?.includes(agent) ?? false;
  };

  const removals: Removal[] = [];
  // Keys are `<region>/<name>` outside us-east-1 (model/region.ts); agents know load balancers by name.
  for (const key of touched) {
    const before = await store.getAt("loadBalancer", key, from);
    if (before === undefined || !(await onAgent(key, from, before.doc))) continue;
    const name = before.doc.name;
    const after = await store.getAt("loadBalancer", key, to);
    const history = await store.history("loadBalancer", key);
    const revision = history.filter((v) => v.revision <= to).at(-1)?.revision ?? to;
    if (!after?.doc.availabilityZones.includes(zone)) {
      removals.push({ kind: "loadBalancer", loadBalancer: name, key: name, revision });
      continue;
    }
    if (!(await onAgent(key, to, after.doc))) {
      // Still in the zone, placed on another agent: the placement revision moved it.
      const moves = await store.history("placement", key);
      const movedAt = moves.filter((v) => v.revision <= to).at(-1)?.revision ?? to;
      removals.push({ kind: "loadBalancer", loadBalancer: name, key: name, revision: movedAt, moved: true });
      continue;
    }
    const ports = new Set(after.doc.listeners.map((l) => l.loadBalancerPort));
    for (const l of before.doc.listeners) {
      if (!ports.has(l.loadBalancerPort)) {
        removals.push({ kind: "listener", loadBalancer: name, key: String(l.loadBalancerPort), revision });
      }
    }
    const instances = new Set(after.doc.instances);
    for (const id of before.doc.instances) {
      if (!instances.has(id)) removals.push({ kind: "backend", loadBalancer: name, key: id, revision });
    }
  }
  return removals;
}
