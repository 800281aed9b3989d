/**
 * The Ballast target of the proxy benchmark: the agent's data plane (`ProxyRuntime`) with one
 * load balancer, and no control plane. One HTTP listener, round robin over the given back ends,
 * a TCP health check. Prints `ready` on stdout once every back end is InService; stops on
 * SIGTERM/SIGINT.
 *
 *   node dist/bench/proxy/ballast-target.js --listen 127.0.0.1:18080 \
 *     --backends 127.0.0.2,127.0.0.3 --backend-port 18081 [--workers 2]
 *
 * `--workers N` (N > 1) runs N copies under node:cluster with SCHED_NONE: the workers share the
 * listening socket and the kernel hands out connections, so the primary stays out of the path.
 */
import cluster from "node:cluster";
import { parseArgs } from "node:util";
import { type NodeSource, resolveNode } from "../../src/model/resolve-node.js";
import { ProxyRuntime } from "../../src/proxy/runtime.js";
import { createLogger } from "../../src/util/logger.js";

const { values } = parseArgs({
  options: {
    listen: { type: "string", default: "127.0.0.1:18080" },
    backends: { type: "string", default: "127.0.0.2,127.0.0.3" },
    "backend-port": { type: "string", default: "18081" },
    workers: { type: "string", default: "1" },
  },
});

const [host = "127.0.0.1", portText = "18080"] = values.listen.split(":");
const port = Number(portText);
const backendPort = Number(values["backend-port"]);
const backends = values.backends.split(",").filter((a) => a !== "");
const workers = Math.max(1, Number(values.workers));

function spec(): NodeSource {
  return {
    name: "bench",
    revision: 1,
    dnsName: "bench.elb.ballast.internal",
    listeners: [
      { protocol: "HTTP", loadBalancerPort: port, instanceProtocol: "HTTP", instancePort: backendPort },
    ],
    healthCheck: {
      target: `TCP:${backendPort}`,
      interval: 5,
      timeout: 2,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    },
    backends: backends.map((address, i) => ({ instanceId: `i-bench${i}`, address, zone: "zone-a" })),
  };
}

async function runProxy(): Promise<void> {
  const runtime = new ProxyRuntime({ logger: createLogger({ bench: "proxy" }, "warn"), zone: "zone-a" });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 2_000);
    force.unref();
    void runtime.close().finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // A cluster worker whose primary went away must not linger.
  process.on("disconnect", stop);

  await runtime.apply([{ address: host, spec: resolveNode(spec()) }]);
  const bound = runtime.nodes().every((n) => n.listeners.every((l) => l.bound));
  if (!bound) throw new Error(`could not bind ${values.listen}`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const health = runtime.health();
    if (health.length === backends.length && health.every((h) => h.state === "InService")) break;
    if (Date.now() > deadline) throw new Error(`back ends not InService: ${JSON.stringify(health)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  if (workers === 1) {
    await runProxy();
    process.stdout.write("ready\n");
    return;
  }
  if (cluster.isPrimary) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      const w = cluster.fork();
      w.on("message", (m: unknown) => {
        if (m === "ready" && ++ready === workers) process.stdout.write("ready\n");
      });
      w.on("exit", (code) => {
        if (!stopping) {
          process.stderr.write(`worker exited with ${code}\n`);
          process.exit(1);
        }
      });
    }
    let stopping = false;
    const stop = (): void => {
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGTERM");
      const force = setTimeout(() => process.exit(0), 3_000);
      force.unref();
      cluster.on("exit", () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      });
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    return;
  }
  await runProxy();
  process.send?.("ready");
}

main().catch((err: unknown) => {
  process.stderr.write(`ballast-target: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
