/**
 * The store as the API sees it in read-only mode: the same object, except that `mutate` and
 * `compact` are refused — with ServiceUnavailable and the incident's message — while the gate says
 * the service is read-only. Every other method (reads, agent statuses, whatever a later change
 * adds to Store) is the store's own, so the API edge needs no change of its own to honour it.
 */
import { BallastError } from "../../model/errors.js";
import { readOnlyMessage, type WriteGate } from "../../model/read-only.js";
import type { Store } from "../store.js";

export function gatedStore(store: Store, gate: WriteGate): Store {
  const refuse = (): BallastError | undefined => {
    const incident = gate.readOnly();
    return incident === undefined
      ? undefined
      : new BallastError("ServiceUnavailable", readOnlyMessage(incident));
  };
  const mutate: Store["mutate"] = (meta, fn, opts) => {
    const e = refuse();
    return e === undefined ? store.mutate(meta, fn, opts) : Promise.reject(e);
  };
  const compact: Store["compact"] = (through, meta) => {
    const e = refuse();
    return e === undefined ? store.compact(through, meta) : Promise.reject(e);
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "mutate") return mutate;
      if (prop === "compact") return compact;
      const value: unknown = Reflect.get(target, prop, target);
      // Drivers keep private fields: their methods must run with the store itself as `this`.
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
