import assert from "node:assert/strict";
import { test } from "node:test";
import { BallastError } from "../../src/model/errors.js";
import {
  parseHealthCheckTarget,
  requireMembers,
  validateHealthCheck,
  validateListeners,
  validateLoadBalancerName,
  validatePageSize,
  validateScheme,
  validateTags,
} from "../../src/model/validate.js";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BallastError);
    return e.code;
  }
  return "none";
}

test("missing members are listed in one Coral-style ValidationError", () => {
  assert.throws(
    () => requireMembers({ loadBalancerName: undefined, listeners: undefined }),
    (e: unknown) =>
      e instanceof BallastError &&
      e.code === "ValidationError" &&
      e.message ===
        "2 validation errors detected: Value null at 'loadBalancerName' failed to satisfy constraint: Member must not be null; Value null at 'listeners' failed to satisfy constraint: Member must not be null",
  );
});

test("load balancer names", () => {
  assert.equal(validateLoadBalancerName("a"), "a");
  assert.equal(validateLoadBalancerName("A-b-1".padEnd(32, "x")), "A-b-1".padEnd(32, "x"));
  for (const bad of ["", "a".repeat(33), "a_b", "a.b", "-a", "a-"])
    assert.equal(
      code(() => validateLoadBalancerName(bad)),
      "ValidationError",
    );
});

test("listeners: protocols, default instance protocol, layers, ports, certificates", () => {
  assert.deepEqual(
    validateListeners([
      { protocol: "https", loadBalancerPort: 443, instancePort: 80, sslCertificateId: "c" },
    ]),
    [
      {
        protocol: "HTTPS",
        loadBalancerPort: 443,
        instanceProtocol: "HTTP",
        instancePort: 80,
        sslCertificateId: "c",
      },
    ],
  );
  assert.equal(
    validateListeners([{ protocol: "SSL", loadBalancerPort: 1, instancePort: 1, sslCertificateId: "c" }])[0]
      ?.instanceProtocol,
    "TCP",
  );
  assert.equal(
    code(() => validateListeners([])),
    "ValidationError",
  );
  assert.equal(
    code(() => validateListeners([{ protocol: "HTTP", loadBalancerPort: 80 }])),
    "ValidationError",
  );
  assert.equal(
    code(() => validateListeners([{ protocol: "SSL", loadBalancerPort: 1, instancePort: 1 }])),
    "ValidationError",
  );
  assert.equal(
    code(() =>
      validateListeners([
        { protocol: "TCP", loadBalancerPort: 1, instanceProtocol: "HTTPS", instancePort: 1 },
      ]),
    ),
    "ValidationError",
  );
  assert.equal(
    code(() => validateListeners([{ protocol: "TCP", loadBalancerPort: 65536, instancePort: 1 }])),
    "ValidationError",
  );
  const twice = { protocol: "TCP", loadBalancerPort: 1, instancePort: 1 };
  assert.equal(
    code(() => validateListeners([twice, twice])),
    "DuplicateListener",
  );
});

test("health check targets and ranges", () => {
  assert.deepEqual(parseHealthCheckTarget("http:80/a/b?c"), { protocol: "HTTP", port: 80, path: "/a/b?c" });
  assert.deepEqual(parseHealthCheckTarget("SSL:443"), { protocol: "SSL", port: 443 });
  for (const bad of ["HTTP:80", "HTTPS:443", "TCP:80/x", "TCP:0", "TCP:65536", "FTP:21", "TCP", "TCP:abc"])
    assert.equal(
      code(() => parseHealthCheckTarget(bad)),
      "ValidationError",
      bad,
    );
  const ok = { target: "tcp:80", interval: 30, timeout: 5, unhealthyThreshold: 2, healthyThreshold: 10 };
  assert.equal(validateHealthCheck(ok).target, "TCP:80");
  for (const over of [
    { interval: 4 },
    { interval: 301 },
    { timeout: 1 },
    { timeout: 61 },
    { timeout: 30 },
    { healthyThreshold: 1 },
    { unhealthyThreshold: 11 },
    { target: undefined },
  ])
    assert.equal(
      code(() => validateHealthCheck({ ...ok, ...over })),
      "ValidationError",
      JSON.stringify(over),
    );
  assert.equal(
    code(() => validateHealthCheck(undefined)),
    "ValidationError",
  );
});

test("tags, scheme and page size", () => {
  assert.deepEqual(validateTags([{ key: "a", value: "b" }, { key: "c" }]), [
    { key: "a", value: "b" },
    { key: "c" },
  ]);
  assert.equal(
    code(() => validateTags([{ key: "" }])),
    "ValidationError",
  );
  assert.equal(
    code(() => validateTags([{ key: "a<b" }])),
    "ValidationError",
  );
  assert.equal(
    code(() => validateTags([{ key: "a" }, { key: "a" }])),
    "DuplicateTagKeys",
  );
  assert.equal(
    code(() => validateTags(Array.from({ length: 11 }, (_, i) => ({ key: `k${i}` })))),
    "TooManyTags",
  );
  assert.equal(validateScheme(undefined), "internet-facing");
  assert.equal(validateScheme("internal"), "internal");
  assert.equal(
    code(() => validateScheme("Internal")),
    "InvalidScheme",
  );
  assert.equal(validatePageSize(undefined), 400);
  assert.equal(
    code(() => validatePageSize(0)),
    "ValidationError",
  );
});
