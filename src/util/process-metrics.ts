/**
 * The process and runtime metrics every Ballast process exports, under the names Prometheus'
 * client libraries use (`process_*`, `nodejs_*`), so existing dashboards and alerts apply.
 * Read from the kernel (`/proc/self`) and from Node when a scrape asks; the only standing cost is
 * the event-loop delay monitor, a libuv timer sampling every 20 ms.
 */
import { readdir, readFile } from "node:fs/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import type { Exposition } from "./prometheus.js";

const START_TIME_SECONDS = Math.round((Date.now() - process.uptime() * 1000) / 10) / 100;
const LOOP_RESOLUTION_MS = 20;
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** Starts the event-loop delay monitor (idempotent); the first scrape starts it otherwise. */
export function startProcessMetrics(): void {
  if (loopDelay !== undefined) return;
  loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
}

/** Appends the process and runtime families to `exp`. */
export async function renderProcessMetrics(exp: Exposition): Promise<void> {
  startProcessMetrics();
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const heap = getHeapStatistics();
  const [openFds, maxFds] = await Promise.all([countOpenFds(), maxOpenFiles()]);
  exp
    .family("process_cpu_user_seconds_total", "counter", "User CPU time spent by the process, in seconds.")
    .sample("process_cpu_user_seconds_total", "", cpu.user / 1e6)
    .family(
      "process_cpu_system_seconds_total",
      "counter",
      "System CPU time spent by the process, in seconds.",
    )
    .sample("process_cpu_system_seconds_total", "", cpu.system / 1e6)
    .family(
      "process_cpu_seconds_total",
      "counter",
      "User and system CPU time spent by the process, in seconds.",
    )
    .sample("process_cpu_seconds_total", "", (cpu.user + cpu.system) / 1e6)
    .family("process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.")
    .sample("process_resident_memory_bytes", "", mem.rss)
    .family(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since the Unix epoch, in seconds.",
    )
    .sample("process_start_time_seconds", "", START_TIME_SECONDS);
  if (openFds !== undefined)
    exp.family("process_open_fds", "gauge", "Open file descriptors.").sample("process_open_fds", "", openFds);
  if (maxFds !== undefined)
    exp
      .family("process_max_fds", "gauge", "The soft limit on open file descriptors.")
      .sample("process_max_fds", "", maxFds);
  exp
    .family("nodejs_heap_size_total_bytes", "gauge", "V8 heap size, in bytes.")
    .sample("nodejs_heap_size_total_bytes", "", mem.heapTotal)
    .family("nodejs_heap_size_used_bytes", "gauge", "V8 heap in use, in bytes.")
    .sample("nodejs_heap_size_used_bytes", "", mem.heapUsed)
    .family("nodejs_heap_size_limit_bytes", "gauge", "The V8 heap size limit, in bytes.")
    .sample("nodejs_heap_size_limit_bytes", "", heap.heap_size_limit)
    .family(
      "nodejs_external_memory_bytes",
      "gauge",
      "Memory of C++ objects bound to JavaScript objects, in bytes.",
    )
    .sample("nodejs_external_memory_bytes", "", mem.external);
  const d = loopDelay as NonNullable<typeof loopDelay>;
  // The monitor counts its own sampling interval in every delay: subtract it. Values are in ns.
  const lag = (ns: number): number =>
    Number.isFinite(ns) ? Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000) : 0;
  exp
    .family(
      "nodejs_eventloop_lag_seconds",
      "gauge",
      "Mean event-loop delay since the previous scrape, in seconds (0 before the first sample).",
    )
    .sample("nodejs_eventloop_lag_seconds", "", d.count === 0 ? 0 : lag(d.mean))
    .family(
      "nodejs_eventloop_lag_p99_seconds",
      "gauge",
      "99th percentile event-loop delay since the previous scrape, in seconds.",
    )
    .sample("nodejs_eventloop_lag_p99_seconds", "", d.count === 0 ? 0 : lag(d.percentile(99)))
    .family(
      "nodejs_eventloop_lag_max_seconds",
      "gauge",
      "Largest event-loop delay since the previous scrape, in seconds.",
    )
    .sample("nodejs_eventloop_lag_max_seconds", "", d.count === 0 ? 0 : lag(d.max))
    .family("nodejs_version_info", "gauge", "Node.js version of the process.")
    .sample("nodejs_version_info", { version: process.version }, 1);
  d.reset();
}

async function countOpenFds(): Promise<number | undefined> {
  try {
    // The directory being read holds one descriptor of its own.
    return (await readdir("/proc/self/fd")).length - 1;
  } catch {
    return undefined;
  }
}

async function maxOpenFiles(): Promise<number | undefined> {
  try {
    const text = await readFile("/proc/self/limits", "utf8");
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (m === null || m[1] === "unlimited") return undefined;
    return Number(m[1]);
  } catch {
    return undefined;
  }
}
