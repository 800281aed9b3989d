/**
 * How an agent folds a new document into what it runs. Upserts take effect; removals take
 * effect only when listed explicitly (principle 3). Anything the agent runs that the document
 * neither states nor removes is kept and reported as unexplained: a control plane that lost
 * state must not be able to take load balancers down by forgetting them.
 */
import type { AgentConfig, Removal } from "../model/agent-protocol.js";
import type { NodeSpec } from "../model/node-spec.js";

export interface MergeResult {
  readonly running: readonly NodeSpec[];
  /** `lb`, `lb/listener/PORT` or `lb/backend/ID`: kept only because nothing removed them. */
  readonly unexplained: readonly string[];
  readonly removed: readonly Removal[];
}

export function mergeConfig(running: readonly NodeSpec[], doc: AgentConfig): MergeResult {
  const removedLbs = new Set<string>();
  const removedListeners = new Set<string>();
  const removedBackends = new Set<string>();
  for (const r of doc.removals) {
    if (r.kind === "loadBalancer") removedLbs.add(r.loadBalancer);
    else if (r.kind === "listener") removedListeners.add(`${r.loadBalancer}/${r.key}`);
    else removedBackends.add(`${r.loadBalancer}/${r.key}`);
  }
  const stated = new Map(doc.loadBalancers.map((lb) => [lb.name, lb]));
  const unexplained: string[] = [];
  const out: NodeSpec[] = [];

  for (const old of running) {
    const next = stated.get(old.name);
    if (!next) {
      if (removedLbs.has(old.name)) continue;
      out.push(old);
      unexplained.push(old.name);
      continue;
    }
    stated.delete(old.name);
    out.push(keepUnremoved(old, next, removedListeners, removedBackends, unexplained));
  }
  for (const lb of stated.values()) out.push(lb);
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { running: out, unexplained, removed: doc.removals };
}

function keepUnremoved(
  old: NodeSpec,
  next: NodeSpec,
  removedListeners: ReadonlySet<string>,
  removedBackends: ReadonlySet<string>,
  unexplained: string[],
): NodeSpec {
  const ports = new Set(next.listeners.map((l) => l.port));
  const keptListeners = old.listeners.filter(
    (l) => !ports.has(l.port) && !removedListeners.has(`${old.name}/${l.port}`),
  );
  const ids = new Set(next.backends.map((b) => b.instanceId));
  const keptBackends = old.backends.filter(
    (b) => !ids.has(b.instanceId) && !removedBackends.has(`${old.name}/${b.instanceId}`),
  );
  if (keptListeners.length === 0 && keptBackends.length === 0) return next;
  for (const l of keptListeners) unexplained.push(`${old.name}/listener/${l.port}`);
  for (const b of keptBackends) unexplained.push(`${old.name}/backend/${b.instanceId}`);
  return {
    ...next,
    listeners: [...next.listeners, ...keptListeners],
    backends: [...next.backends, ...keptBackends],
  };
}

/** A full document folded into the running set by name; every spec it states counts as changed. */
export function mergeFull(running: ReadonlyMap<string, NodeSpec>, doc: AgentConfig): DeltaMergeResult {
  const m = mergeConfig([...running.values()], doc);
  const out = new Map(m.running.map((lb) => [lb.name, lb]));
  const left = [...running.keys()].filter((name) => !out.has(name));
  return { running: out, changed: m.running, left, unexplained: m.unexplained, removed: m.removed };
}

/** A document folded in: the new running set, and only what it changed. */
export interface DeltaMergeResult {
  readonly running: ReadonlyMap<string, NodeSpec>;
  /** The specs the delta changed or added (after keeping what it neither states nor removes). */
  readonly changed: readonly NodeSpec[];
  /** Names of the load balancers that left (explicit removals of ones this agent ran). */
  readonly left: readonly string[];
  readonly unexplained: readonly string[];
  readonly removed: readonly Removal[];
}

/**
 * Folds a delta document into the running set. A load balancer the delta does not state is
 * unchanged — the same object, so the proxy sees at once that it has nothing to do — and keeps
 * whatever was unexplained about it before; one it states is merged as in a full document.
 */
export function mergeDelta(
  running: ReadonlyMap<string, NodeSpec>,
  unexplainedBefore: readonly string[],
  doc: AgentConfig,
): DeltaMergeResult {
  const removedListeners = new Set<string>();
  const removedBackends = new Set<string>();
  const removedLbs = new Set<string>();
  for (const r of doc.removals) {
    if (r.kind === "loadBalancer") removedLbs.add(r.loadBalancer);
    else if (r.kind === "listener") removedListeners.add(`${r.loadBalancer}/${r.key}`);
    else removedBackends.add(`${r.loadBalancer}/${r.key}`);
  }
  const out = new Map(running);
  const unexplained: string[] = [];
  const changed: NodeSpec[] = [];
  const stated = new Set<string>();
  for (const next of doc.loadBalancers) {
    stated.add(next.name);
    const old = out.get(next.name);
    const spec =
      old === undefined ? next : keepUnremoved(old, next, removedListeners, removedBackends, unexplained);
    out.set(next.name, spec);
    changed.push(spec);
  }
  const left: string[] = [];
  for (const name of removedLbs) {
    if (stated.has(name) || !out.has(name)) continue;
    out.delete(name);
    left.push(name);
  }
  // What was unexplained stays so, unless the delta restated or removed its load balancer.
  const settled = (entry: string): boolean => {
    const name = entry.split("/", 1)[0] as string;
    return stated.has(name) || !out.has(name);
  };
  const kept = unexplainedBefore.filter((e) => !settled(e));
  return { running: out, changed, left, unexplained: [...kept, ...unexplained], removed: doc.removals };
}
