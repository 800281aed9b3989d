/**
 * Failover benchmark: how long Ballast takes to act as one again after a process dies.
 *
 *   node dist/bench/failover.js [--controller-trials 10] [--node-trials 5] [--timeouts 15,4]
 *                               [--only controller|nodes]
 *
 * Controller (bench/failover-controller.ts): two `ballast control` replicas on one PostgreSQL,
 * the active one SIGKILLed under a stream of changes through both. Nodes
 * (bench/failover-agents.ts): a control plane and three agents of one zone in network namespaces,
 * the agent holding a load balancer's node SIGKILLed, for each failover timeout; then two of the
 * three at once, which the breaker must refuse to fail over. Figures only; nothing is asserted.
 * Progress goes to stderr, the tables to stdout (docs/BENCHMARKS.md, "Failover").
 */
import { parseArgs } from "node:util";
import { nodeFailover } from "./failover-agents.js";
import { controllerFailover } from "./failover-controller.js";
import { summary } from "./failover-support.js";

const { values } = parseArgs({
  options: {
    "controller-trials": { type: "string", default: "10" },
    "node-trials": { type: "string", default: "5" },
    timeouts: { type: "string", default: "15,4" },
    only: { type: "string" },
  },
});
const positive = (raw: string, flag: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a whole number ≥ 1, got '${raw}'`);
  return n;
};
const controllerTrials = positive(values["controller-trials"], "controller-trials");
const nodeTrials = positive(values["node-trials"], "node-trials");
const timeouts = values.timeouts.split(",").map((t) => positive(t.trim(), "timeouts"));
if (values.only !== undefined && values.only !== "controller" && values.only !== "nodes")
  throw new Error(`--only must be controller or nodes, got '${values.only}'`);

if (values.only !== "nodes") {
  const trials = await controllerFailover(controllerTrials);
  const take = summary(trials.map((t) => t.takeoverMs));
  const first = summary(trials.map((t) => t.firstMutationMs));
  const usual = summary(trials.map((t) => t.beforeKillCallMs).filter((v) => !Number.isNaN(v)));
  const calls = trials.reduce((n, t) => n + t.survivorCalls, 0);
  const failed = trials.reduce((n, t) => n + t.survivorFailures, 0);
  console.log(`\nController failover (${trials.length} SIGKILLs of the active replica)\n`);
  console.log("| measure | p50 ms | worst ms |");
  console.log("|---|---|---|");
  console.log(`| kill → survivor holds the controller lock | ${take.p50} | ${take.worst} |`);
  console.log(`| kill → first mutation accepted through the survivor | ${first.p50} | ${first.worst} |`);
  console.log(
    `| a call through the survivor before the kill (median per trial) | ${usual.p50} | ${usual.worst} |`,
  );
  console.log(`\ncalls through the survivor: ${calls}, failed: ${failed}`);
  for (const s of trials.flatMap((t) => t.survivorFailureSamples)) console.log(`  failed: ${s}`);
}

if (values.only !== "controller") {
  const { why, results } = await nodeFailover(timeouts, nodeTrials);
  console.log(`\nNode failover (one zone, three agents, on ${why})\n`);
  console.log(
    "| failover timeout | trials | kill → placement moved p50 / worst ms | kill → DNS without the dead node p50 / worst ms |",
  );
  console.log("|---|---|---|---|");
  for (const r of results) {
    const placed = summary(r.trials.map((t) => t.placementMs));
    const dns = summary(r.trials.map((t) => t.dnsMs));
    console.log(
      `| ${r.timeoutSeconds} s | ${placed.n} | ${placed.p50} / ${placed.worst} | ${dns.p50} / ${dns.worst} |`,
    );
  }
  console.log("\nBreaker (two of three agents killed at once)\n");
  console.log("| failover timeout | kill → failover-suspended alarm ms | nodes moved |");
  console.log("|---|---|---|");
  for (const r of results)
    console.log(
      `| ${r.timeoutSeconds} s | ${r.breaker.alarmMs.toFixed(0)} | ${r.breaker.moved ? "yes" : "none"} |`,
    );
  for (const r of results) console.log(`  alarm (${r.timeoutSeconds} s): ${r.breaker.message}`);
}
