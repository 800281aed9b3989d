/**
 * The table against the service model: every ELB action is either in the table or in the
 * not-implemented list (never both), every implemented action has a success row, and every error
 * the model lists for an implemented action has a row or a reason why Ballast cannot produce it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACTIONS } from "../../src/api/aws-query/actions/index.js";
import { CASES } from "./cases/index.js";
import { UNSUPPORTED_ACTIONS } from "./cases/unsupported.js";
import { cliAction, sdkCommand } from "./support/clients.js";
import { operationErrors, serviceModel } from "./support/model.js";

/** Model errors of implemented actions that Ballast has no way to produce today, and why. */
const NOT_PRODUCIBLE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  CreateLoadBalancer: {
    InvalidSubnet: "no internet gateways are modelled: every registered subnet is usable",
    UnsupportedProtocol: "an unknown listener protocol is a ValidationError",
    OperationNotPermitted: "no account-level restrictions exist",
  },
  DescribeLoadBalancers: { DependencyThrottle: "no throttled dependency" },
  DescribeLoadBalancerAttributes: {
    LoadBalancerAttributeNotFound: "every attribute exists: unset ones have ELB's defaults",
  },
  AttachLoadBalancerToSubnets: {
    InvalidSubnet: "no internet gateways are modelled: every registered subnet is usable",
  },
  ApplySecurityGroupsToLoadBalancer: {
    InvalidConfigurationRequest:
      "every load balancer is in a VPC (EC2-Classic is retired), so every one takes security groups",
  },
  CreateLoadBalancerListeners: { UnsupportedProtocol: "an unknown listener protocol is a ValidationError" },
  SetLoadBalancerListenerSSLCertificate: {
    UnsupportedProtocol: "the listener's protocol decides: HTTP/TCP is InvalidConfigurationRequest",
  },
};

describe("conformance table coverage", () => {
  const model = serviceModel();
  const operations = Object.keys(model.operations).sort();

  it("every model operation is in the table or in the not-implemented list, never both", () => {
    const tabled = new Set(CASES.map((c) => c.action));
    for (const op of operations)
      assert.notEqual(tabled.has(op), UNSUPPORTED_ACTIONS.includes(op), `${op}: exactly one of the two`);
    for (const a of [...tabled, ...UNSUPPORTED_ACTIONS])
      assert.ok(operations.includes(a), `${a} is not in the model`);
  });

  it("the table covers exactly the actions the handler implements", () => {
    assert.deepEqual([...new Set(CASES.map((c) => c.action))].sort(), [...ACTIONS.keys()].sort());
  });

  it("every implemented action has a success row", () => {
    for (const action of ACTIONS.keys())
      assert.ok(
        CASES.some((c) => c.action === action && "ok" in c.expect),
        `${action} has no success row`,
      );
  });

  it("every modelled error of an implemented action has a row, or a reason it cannot happen", () => {
    for (const action of ACTIONS.keys()) {
      for (const { code, status } of operationErrors(model, action)) {
        const row = CASES.find((c) => c.action === action && "error" in c.expect && c.expect.error === code);
        if (row && "error" in row.expect) assert.equal(row.expect.status, status, `${action} ${code} status`);
        else assert.ok(NOT_PRODUCIBLE[action]?.[code], `${action}: no row for ${code}`);
      }
    }
  });

  it("every operation has an SDK command and a CLI command", () => {
    for (const op of operations) {
      assert.equal(typeof sdkCommand(op), "function", `${op}Command`);
      assert.match(cliAction(op), /^[a-z]+(-[a-z]+)+$/);
    }
  });

  it("rows have distinct names per action", () => {
    const names = CASES.map((c) => `${c.action}: ${c.name}`);
    assert.equal(new Set(names).size, names.length);
  });
});
