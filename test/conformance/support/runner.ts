/** Runs the whole table, and the unsupported-action list, through one client against a real control plane. */
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { CASES } from "../cases/index.js";
import { UNSUPPORTED_ACTIONS } from "../cases/unsupported.js";
import { type ClientName, type ConformanceClient, type Outcome, sdkClient } from "./clients.js";
import { isObject, type Json, list, str } from "./json.js";
import { minimalInput, serviceModel } from "./model.js";
import { type ConformanceServer, startConformanceServer } from "./server.js";
import { type CaseContext, type ConformanceCase, type Params, runsOnCli, substitute } from "./table.js";

const SHORT: Record<ClientName, string> = { sdk: "sdk", cli: "cli", boto3: "py" };

function describeOutcome(o: Outcome): string {
  if (o.kind === "ok") return `success ${JSON.stringify(o.output)}`;
  if (o.kind === "error") return `error ${o.code} (${o.status}): ${o.message}`;
  return `client-side validation: ${o.message}`;
}

/**
 * ELB words LoadBalancerNotFound in two ways: the Describe actions that read its index say
 * "Cannot find Load Balancer NAME", every other action "There is no ACTIVE Load Balancer named 'NAME'".
 */
const CANNOT_FIND = new Set(["DescribeLoadBalancers", "DescribeLoadBalancerAttributes", "DescribeTags"]);

function notFoundMessage(action: string): RegExp {
  return CANNOT_FIND.has(action)
    ? /^Cannot find Load Balancer [A-Za-z0-9-]+$/
    : /^There is no ACTIVE Load Balancer named '[A-Za-z0-9-]+'$/;
}

function asParams(v: Json): Params {
  assert.ok(isObject(v));
  return v;
}

export function runConformance(
  clientName: ClientName,
  makeClient: (url: string) => ConformanceClient | Promise<ConformanceClient>,
): void {
  describe(`ELB API conformance through ${clientName}`, () => {
    let server: ConformanceServer;
    let client: ConformanceClient;
    let reference: ConformanceClient;

    before(async () => {
      server = await startConformanceServer();
      reference = sdkClient(server.url);
      client = await makeClient(server.url);
    });
    after(async () => {
      await client?.close();
      await reference?.close();
      await server?.close();
    });

    /** Every case starts from an empty service: deletes whatever the last one left. */
    async function deleteAll(): Promise<void> {
      const all = await reference.call("DescribeLoadBalancers", {});
      assert.equal(all.kind, "ok", describeOutcome(all));
      if (all.kind !== "ok") return;
      for (const d of list(all.output, "LoadBalancerDescriptions")) {
        const r = await reference.call("DeleteLoadBalancer", {
          LoadBalancerName: str(d, "LoadBalancerName"),
        });
        assert.equal(r.kind, "ok", describeOutcome(r));
      }
    }

    async function runCase(t: TestContext, c: ConformanceCase, lb: string): Promise<void> {
      const setup: Json[] = [];
      for (const step of c.setup ?? []) {
        const r = await reference.call(step.action, asParams(substitute(step.params, lb)));
        assert.equal(r.kind, "ok", `setup ${step.action} failed: ${describeOutcome(r)}`);
        if (r.kind === "ok") setup.push(r.output);
      }
      const ctx: CaseContext = {
        lb,
        setup,
        client: clientName,
        call: (action, params) => reference.call(action, params),
      };
      const raw = typeof c.params === "function" ? c.params({ lb, setup }) : c.params;
      const params = asParams(substitute(raw, lb));

      const headBefore = await server.cp.store.head();
      const outcome = await client.call(c.action, params);
      const headAfter = await server.cp.store.head();

      if ("ok" in c.expect) {
        assert.equal(outcome.kind, "ok", `expected success, got ${describeOutcome(outcome)}`);
        if (outcome.kind !== "ok") return;
        await c.expect.ok(outcome.output, ctx);
        if (c.expect.revisions !== undefined)
          assert.equal(headAfter - headBefore, c.expect.revisions, "revisions appended by the call");
        return;
      }
      const want = c.expect;
      if (outcome.kind === "client-validation") {
        assert.ok(
          c.clientMayReject,
          `${clientName} rejected the call itself (${outcome.message}); mark the case clientMayReject if botocore validates this member`,
        );
        t.diagnostic(`client-side validation by ${clientName}: ${outcome.message.split("\n")[0]}`);
      } else {
        assert.equal(outcome.kind, "error", `expected ${want.error}, got ${describeOutcome(outcome)}`);
        if (outcome.kind !== "error") return;
        assert.equal(outcome.code, want.error, describeOutcome(outcome));
        assert.equal(outcome.status, want.status, describeOutcome(outcome));
        assert.notEqual(outcome.message, "", "an error carries a message");
        if (want.error === "LoadBalancerNotFound")
          assert.match(outcome.message, notFoundMessage(c.action), describeOutcome(outcome));
      }
      assert.equal(headAfter, headBefore, "a rejected call must not change the stored state");
    }

    CASES.forEach((c, i) => {
      if (clientName === "cli" && !runsOnCli(c)) return;
      const lb = `cf-${SHORT[clientName]}-${i}`;
      it(`${c.action}: ${c.name}`, c.todo ? { todo: c.todo } : {}, async (t) => {
        try {
          await runCase(t, c, lb);
        } finally {
          await deleteAll();
        }
      });
    });

    // None of these can change state, so they may overlap (the CLI's startup dominates).
    describe("actions not implemented yet", { concurrency: 2 }, () => {
      for (const action of UNSUPPORTED_ACTIONS)
        it(`${action} (not implemented yet): InvalidAction`, async () => {
          const headBefore = await server.cp.store.head();
          const outcome = await client.call(action, asParams(minimalInput(serviceModel(), action)));
          assert.equal(outcome.kind, "error", describeOutcome(outcome));
          if (outcome.kind !== "error") return;
          assert.equal(outcome.code, "InvalidAction", describeOutcome(outcome));
          assert.equal(outcome.status, 400, describeOutcome(outcome));
          assert.match(
            outcome.message,
            new RegExp(`Could not find operation ${action} for version 2012-06-01`),
          );
          assert.equal(await server.cp.store.head(), headBefore);
        });
    });
  });
}
