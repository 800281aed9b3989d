import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackendHealth, FAILED_THRESHOLD, REGISTERING } from "../../src/proxy/health/state.js";

const T = { healthyThreshold: 3, unhealthyThreshold: 2 };

describe("BackendHealth (ELB state machine)", () => {
  it("starts OutOfService, registration in progress", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    assert.deepEqual(h.report("lb"), {
      loadBalancer: "lb",
      instanceId: "i-1",
      state: "OutOfService",
      reasonCode: "ELB",
      description: REGISTERING,
    });
  });

  it("a new instance is InService after its first passing check", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    assert.equal(h.record(true, T), true);
    assert.equal(h.state, "InService");
    assert.equal(h.reasonCode, "N/A");
    assert.equal(h.description, "N/A");
  });

  it("goes OutOfService only after unhealthyThreshold consecutive failures", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    h.record(true, T);
    assert.equal(h.record(false, T), false);
    assert.equal(h.record(true, T), false, "a pass resets the failure count");
    assert.equal(h.record(false, T), false);
    assert.equal(h.record(false, T), true);
    assert.equal(h.state, "OutOfService");
    assert.equal(h.reasonCode, "Instance");
    assert.equal(h.description, FAILED_THRESHOLD);
  });

  it("comes back only after healthyThreshold consecutive passes", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    h.record(true, T);
    h.record(false, T);
    h.record(false, T);
    assert.equal(h.record(true, T), false);
    assert.equal(h.record(true, T), false);
    assert.equal(h.record(true, T), true);
    assert.equal(h.state, "InService");
  });

  it("a registering instance that keeps failing reports the threshold failure", () => {
    const h = new BackendHealth("i-1", "10.0.0.1");
    assert.equal(h.record(false, T), false);
    assert.equal(h.description, REGISTERING);
    assert.equal(h.record(false, T), true);
    assert.equal(h.state, "OutOfService");
    assert.equal(h.description, FAILED_THRESHOLD);
    assert.equal(h.record(true, T), false, "past registration it needs healthyThreshold passes");
  });
});
