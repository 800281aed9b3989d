/**
 * An agent applying a delta passes every unchanged load balancer as the very spec object the
 * proxy runs, and the runtime skips those nodes. Skipping must not drop the one thing a
 * re-apply of an unchanged node still does: give a listener that failed to bind another try.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { silentLogger } from "../../src/util/logger.js";
import { resolved } from "../support/builders.js";
import { cleanupsAfterAll } from "../support/cleanups.js";
import { backend, closeServer, fastHealthCheck, freePort, httpListener, lbSpec, waitFor } from "./helpers.js";

const cleanups = cleanupsAfterAll();

describe("ProxyRuntime.apply with the very spec a node runs", () => {
  it("leaves the node alone, and binds a listener that could not bind before", async () => {
    const node = `127.0.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
    const port = await freePort(node);
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, node, () => resolve()));
    const runtime = new ProxyRuntime({ logger: silentLogger, zone: "zone-a" });
    cleanups.push(() => runtime.close(0));
    const assignments = resolved([
      {
        address: node,
        spec: lbSpec("lb", [httpListener(port, 9)], [backend("i-1")], fastHealthCheck("TCP:9")),
      },
    ]);
    await runtime.apply(assignments);
    assert.equal(runtime.nodes()[0]?.listeners[0]?.bound, false, "the port is taken: unbound");

    await closeServer(blocker);
    // The same objects again, as an agent passes a load balancer a delta did not change.
    await runtime.apply(assignments);
    await waitFor(
      "the listener to bind on the retry",
      () => runtime.nodes()[0]?.listeners[0]?.bound === true,
    );
    assert.equal(runtime.unboundListeners().length, 0);
  });
});
