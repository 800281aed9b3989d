import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BalancerFactory, BalancerTarget } from "../../src/proxy/balancer/balancer.js";

class T implements BalancerTarget {
  constructor(
    readonly id: string,
    public inService = true,
  ) {}
}

/** The contract every balancer keeps; each implementation runs it in one line. */
export function balancerConformance(name: string, make: BalancerFactory): void {
  describe(`${name} balancer (conformance)`, () => {
    it("returns undefined for an empty table", () => {
      assert.equal(make<T>([]).pick(), undefined);
    });

    it("never picks an OutOfService target", () => {
      const ts = [new T("a", false), new T("b"), new T("c", false)];
      const b = make(ts);
      for (let i = 0; i < 10; i++) assert.equal(b.pick()?.id, "b");
    });

    it("returns undefined when no target is InService", () => {
      assert.equal(make([new T("a", false), new T("b", false)]).pick(), undefined);
    });

    it("honours exclude, and returns undefined if it is the only InService target", () => {
      const ts = [new T("a"), new T("b")];
      const b = make(ts);
      for (let i = 0; i < 10; i++) assert.equal(b.pick(ts[0])?.id, "b");
      assert.equal(make([ts[0] as T]).pick(ts[0]), undefined);
    });

    it("sees health changes without a rebuild", () => {
      const ts = [new T("a"), new T("b", false)];
      const b = make(ts);
      assert.equal(b.pick()?.id, "a");
      (ts[0] as T).inService = false;
      (ts[1] as T).inService = true;
      assert.equal(b.pick()?.id, "b");
    });

    it("reaches every InService target", () => {
      const ts = [new T("a"), new T("b"), new T("c")];
      const b = make(ts);
      const seen = new Set<string>();
      for (let i = 0; i < 30; i++) seen.add(b.pick()?.id ?? "");
      assert.deepEqual([...seen].sort(), ["a", "b", "c"]);
    });
  });
}
