/**
 * Point-in-time restore (principle 1): the state of a past revision, applied as ONE new revision.
 * Nothing is rewound or removed from the journal, so a restore is undone by restoring to the
 * revision just before it.
 *
 * Decisions:
 * - Credentials stay as they are unless `includeCredentials` is set. Restoring an old key set
 *   revives revoked (possibly leaked) keys and drops keys made since — including the ones the
 *   operators doing the restore are signed in with — so it can lock out the people repairing the
 *   incident. Configuration and credentials are recovered separately, on purpose.
 * - Restoring to revision 0 (the empty journal, or a time before the first revision) deletes
 *   everything: exactly the damage of December 2012. It is refused unless `allowEmpty` is set.
 * - A revision that does not exist, one below the journal's compaction, or a load balancer that
 *   existed neither then nor now, is an error and nothing is written.
 * - With `loadBalancers`, only those load balancers change; the inventory is left alone, and
 *   instance ids they register that the inventory no longer has (IP-address ids need no entry)
 *   are returned as warnings.
 */
import { BallastError } from "../../model/errors.js";
import { instanceIdIsAddress } from "../../model/instances.js";
import {
  ACCESS_KINDS,
  CONTROLLER_KINDS,
  ENTITY_KINDS,
  type EntityKind,
  type LoadBalancer,
} from "../../model/types.js";
import type { Revision, RevisionMeta, Store } from "../store.js";
import { applyRevision, type Scope } from "./apply.js";
import type { StateDiff } from "./diff.js";
import { type ProgressFn, requireKept, requireRevision, revisionAtTime } from "./snapshot.js";

export interface RestoreOptions {
  /** A revision number, or a time: the newest revision committed at or before it. */
  readonly to: number | { readonly time: string };
  /** Restore only these load balancers; everything else stays as it is. */
  readonly loadBalancers?: readonly string[];
  readonly meta: RevisionMeta;
  /** Also restore API credentials (see the module comment for why this is off by default). */
  readonly includeCredentials?: boolean;
  /** Allow a restore to revision 0, which deletes every load balancer and instance. */
  readonly allowEmpty?: boolean;
  readonly onProgress?: ProgressFn;
}

export interface RestoreResult {
  /** The revision restored to. */
  readonly target: number;
  /** The new revision, or undefined when the state already equalled the target. */
  readonly revision: Revision | undefined;
  readonly diff: StateDiff;
  readonly warnings: readonly string[];
}

export async function restore(store: Store, options: RestoreOptions): Promise<RestoreResult> {
  const target = await resolveTarget(store, options.to);
  if (target === 0 && !options.allowEmpty) {
    throw new BallastError(
      "ValidationError",
      "restoring to revision 0 (before the first revision) would delete every load balancer and instance; pass allowEmpty to do so on purpose",
    );
  }
  const names = options.loadBalancers;
  if (names !== undefined && names.length === 0) {
    throw new BallastError(
      "ValidationError",
      "loadBalancers is empty: name at least one, or omit it to restore everything",
    );
  }
  const kinds: EntityKind[] = names
    ? ["loadBalancer"]
    : ENTITY_KINDS.filter((k) => !ACCESS_KINDS.includes(k) && !CONTROLLER_KINDS.includes(k));
  if (options.includeCredentials) kinds.push(...ACCESS_KINDS);
  let scope: Scope = { kinds };
  // The named load balancers as they stood at the target (a past revision: it cannot change).
  const then = new Map<string, LoadBalancer>();
  if (names) {
    for (const name of new Set(names)) {
      const lb = (await store.getAt("loadBalancer", name, target))?.doc;
      if (lb) then.set(name, lb);
      else if (!(await store.get("loadBalancer", name))) {
        throw new BallastError(
          "LoadBalancerNotFound",
          `load balancer '${name}' existed neither at revision ${target} nor now; nothing was restored`,
        );
      }
    }
    scope = { kinds, keys: { loadBalancer: [...new Set(names)] } };
  }

  const { revision, diff } = await applyRevision(store, target, scope, options.meta, options.onProgress);
  return { target, revision, diff, warnings: names ? await missingInstances(store, then) : [] };
}

async function resolveTarget(store: Store, to: RestoreOptions["to"]): Promise<number> {
  if (typeof to === "number") {
    await requireRevision(store, to);
    await requireKept(store, to);
    return to;
  }
  const at = await revisionAtTime(store, to.time);
  await requireKept(store, at, `time ${to.time}`);
  return at;
}

async function missingInstances(store: Store, then: ReadonlyMap<string, LoadBalancer>): Promise<string[]> {
  const warnings: string[] = [];
  for (const [name, lb] of then) {
    const missing: string[] = [];
    for (const id of lb.instances)
      if (!instanceIdIsAddress(id) && !(await store.get("instance", id))) missing.push(id);
    if (missing.length > 0) {
      warnings.push(
        `load balancer ${name}: registered instance(s) ${missing.join(", ")} are not in the current inventory`,
      );
    }
  }
  return warnings;
}
