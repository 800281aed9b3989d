import assert from "node:assert/strict";
import { it } from "node:test";
import { roundRobin } from "../../src/proxy/balancer/round-robin.js";
import { balancerConformance } from "./balancer.conformance.js";

balancerConformance("round robin", roundRobin);

it("round robin visits targets in order, skipping OutOfService ones", () => {
  const ts = [
    { id: "a", inService: true },
    { id: "b", inService: false },
    { id: "c", inService: true },
  ];
  const b = roundRobin(ts);
  assert.deepEqual(
    Array.from({ length: 4 }, () => b.pick()?.id),
    ["a", "c", "a", "c"],
  );
});
