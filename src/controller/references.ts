/**
 * Which load balancers refer to an instance or a certificate, kept in memory and caught up from
 * the journal: a delta document (controller/compile.ts) must pull in every load balancer whose
 * resolved spec an inventory or certificate change alters, without listing the store per change.
 *
 * Built once from a listing of the load balancers, then advanced with `store.changes()`; rebuilt
 * when the journal was compacted past it (the versions it would need are gone).
 */
import { entityKey, type LoadBalancer } from "../model/types.js";
import type { Store } from "../store/store.js";

interface Refs {
  readonly instances: readonly string[];
  readonly certificates: readonly string[];
}

export class ReferenceIndex {
  readonly #store: Store;
  #built = false;
  /** The journal revision the index reflects. */
  #revision = 0;
  readonly #byLoadBalancer = new Map<string, Refs>();
  readonly #byInstance = new Map<string, Set<string>>();
  readonly #byCertificate = new Map<string, Set<string>>();
  /** Catch-ups run one at a time: agents poll concurrently. */
  #queue: Promise<void> = Promise.resolve();

  constructor(store: Store) {
    this.#store = store;
  }

  /** The keys of the load balancers that register instance `id` (as of the last catch-up). */
  loadBalancersOfInstance(id: string): ReadonlySet<string> {
    return this.#byInstance.get(id) ?? new Set();
  }

  /** The keys of the load balancers whose listeners use certificate `arn`. */
  loadBalancersOfCertificate(arn: string): ReadonlySet<string> {
    return this.#byCertificate.get(arn) ?? new Set();
  }

  /** Brings the index to at least revision `to`. */
  catchUp(to: number): Promise<void> {
    const run = this.#queue.then(() => this.#catchUp(to));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #catchUp(to: number): Promise<void> {
    if (this.#built && this.#revision >= to) return;
    if (!this.#built || this.#revision < (await this.#store.compactedThrough())) {
      await this.#rebuild();
      if (this.#revision >= to) return;
    }
    const from = this.#revision;
    for (const v of await this.#store.changes(from, to)) {
      if (v.kind === "loadBalancer") this.#set(v.key, (v.doc as LoadBalancer | null) ?? undefined);
    }
    this.#revision = Math.max(from, to);
  }

  async #rebuild(): Promise<void> {
    this.#byLoadBalancer.clear();
    this.#byInstance.clear();
    this.#byCertificate.clear();
    // The head is read first: versions committed during the listing are replayed, in order, on top.
    const head = await this.#store.head();
    for (const { doc } of await this.#store.list("loadBalancer"))
      this.#set(entityKey("loadBalancer", doc), doc);
    this.#revision = head;
    this.#built = true;
  }

  #set(key: string, lb: LoadBalancer | undefined): void {
    const old = this.#byLoadBalancer.get(key);
    if (old !== undefined) {
      for (const id of old.instances) unlink(this.#byInstance, id, key);
      for (const arn of old.certificates) unlink(this.#byCertificate, arn, key);
      this.#byLoadBalancer.delete(key);
    }
    if (lb === undefined) return;
    const refs: Refs = {
      instances: [...new Set(lb.instances)],
      certificates: [
        ...new Set(lb.listeners.flatMap((l) => (l.sslCertificateId ? [l.sslCertificateId] : []))),
      ],
    };
    for (const id of refs.instances) link(this.#byInstance, id, key);
    for (const arn of refs.certificates) link(this.#byCertificate, arn, key);
    this.#byLoadBalancer.set(key, refs);
  }
}

function link(index: Map<string, Set<string>>, ref: string, key: string): void {
  const set = index.get(ref) ?? new Set<string>();
  set.add(key);
  index.set(ref, set);
}

function unlink(index: Map<string, Set<string>>, ref: string, key: string): void {
  const set = index.get(ref);
  if (set === undefined) return;
  set.delete(key);
  if (set.size === 0) index.delete(ref);
}
