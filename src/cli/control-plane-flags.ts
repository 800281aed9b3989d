/**
 * The flags `ballast up` and `ballast control` share, read into the control plane's options:
 * ports, store, regions, backups, retention, the bulk threshold, metrics, and the fleet's.
 */
import { resolve } from "node:path";
import { isRegionName } from "../model/region.js";
import { parseListenAddress } from "../util/observability-server.js";
import { countFlag, intFlag, UsageError } from "./args.js";
import { type FleetFlagValues, fleetFlagOptions } from "./fleet-flags.js";

/** The flags `ballast up` and `ballast control` share, with their help (src/cli/specs/system.ts). */
export { CONTROL_PLANE_FLAGS } from "./specs/system.js";

/** What parseArgs gives for CONTROL_PLANE_FLAGS. */
export interface ControlPlaneFlagValues extends FleetFlagValues {
  readonly "data-dir": string;
  readonly store: string;
  readonly "api-port"?: string | undefined;
  readonly "agent-port"?: string | undefined;
  readonly "dns-port"?: string | undefined;
  readonly region: string;
  readonly regions?: string | undefined;
  readonly "dns-domain": string;
  readonly "backup-interval"?: string | undefined;
  readonly "backup-keep"?: string | undefined;
  readonly "retention-days"?: string | undefined;
  readonly "bulk-threshold"?: string | undefined;
  readonly "metrics-listen"?: string | undefined;
}

/** The control plane's options the shared flags set (all but host, zones, env and logger). */
export function controlPlaneFlagOptions(values: ControlPlaneFlagValues) {
  return {
    dataDir: resolve(values["data-dir"]),
    store: values.store,
    apiPort: intFlag(values["api-port"], "api-port", 9700),
    agentPort: intFlag(values["agent-port"], "agent-port", 9701),
    dnsPort: intFlag(values["dns-port"], "dns-port", 8053),
    ...regionsFlag(values.regions),
    dnsDomain: values["dns-domain"],
    ...backupFlags(values["backup-interval"], values["backup-keep"]),
    ...retentionFlag(values["retention-days"]),
    ...(values["bulk-threshold"] === undefined
      ? {}
      : { bulkThreshold: countFlag(values["bulk-threshold"], "bulk-threshold", 10) }),
    ...metricsListenFlag(values["metrics-listen"]),
    ...fleetFlagOptions(values),
  };
}

/** `--metrics-listen HOST:PORT`: /metrics on an address of its own instead of the API port. */
export function metricsListenFlag(raw: string | undefined): {
  metricsListen?: { host: string; port: number };
} {
  if (raw === undefined) return {};
  const parsed = parseListenAddress(raw);
  if (parsed === undefined) throw new UsageError(`--metrics-listen must be ADDRESS:PORT, got ${raw}`);
  return { metricsListen: parsed };
}

/** `--regions us-east-1,eu-west-1`: the only regions served; without it, every region. */
export function regionsFlag(raw: string | undefined): { regions?: readonly string[] } {
  if (raw === undefined) return {};
  const regions = raw.split(",").map((r) => r.trim());
  for (const r of regions)
    if (!isRegionName(r)) throw new UsageError(`--regions takes AWS region names (us-east-1,…), got ${r}`);
  return { regions };
}

/** `--backup-interval` (seconds) and `--backup-keep`, shared by `ballast up` and `ballast control`. */
export function backupFlags(interval: string | undefined, keep: string | undefined) {
  const whole = (raw: string | undefined, name: string, fallback: number, max: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > max)
      throw new UsageError(`--${name} must be a whole number from 1 to ${max}`);
    return n;
  };
  return {
    // A timer longer than 2^31 - 1 ms fires at once: keep the interval under about 24 days.
    backupIntervalSeconds: whole(interval, "backup-interval", 3600, 2_000_000),
    backupKeep: whole(keep, "backup-keep", 48, 100_000),
  };
}

/** `--retention-days`, shared by `ballast up` and `ballast control`: at least 1, default 90. */
export function retentionFlag(raw: string | undefined): { retentionDays: number } {
  if (raw === undefined) return { retentionDays: 90 };
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 1_000_000)
    throw new UsageError("--retention-days must be a whole number of days from 1 to 1000000");
  return { retentionDays: n };
}
