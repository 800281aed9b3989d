/**
 * The control-plane process, composed: store, bootstrap credentials, the AWS Query API and the
 * admin API on one HTTP port, the agent channel on another, and the DNS responder. This is the
 * composition root; `api` and `controller` never import each other.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createAdminHandler } from "../api/admin/handler.js";
import type { JournalRepairControl } from "../api/admin/journal-repair.js";
import { AuditLog } from "../api/auth/audit-log.js";
import { ensureBootstrapAdmin } from "../api/auth/bootstrap.js";
import { SigV4Authenticator } from "../api/auth/sigv4.js";
import { answerClientErrorsAsAws } from "../api/aws-query/client-error.js";
import { createAwsQueryHandler } from "../api/aws-query/handler.js";
import { UnauthenticatedNoise, unauthenticatedCounter } from "../api/unauthenticated.js";
import { AgentChannel } from "../controller/agent-channel.js";
import { ChangeGuard } from "../controller/guard.js";
import { StateMonitor } from "../controller/state-monitor.js";
import { DnsResponder } from "../dns/responder.js";
import { storeResolver } from "../dns/store-resolver.js";
import type { SafetyControl } from "../model/guard.js";
import { isRegionName } from "../model/region.js";
import { gatedStore } from "../store/ops/gated-store.js";
import { BackupScheduler } from "../store/ops/index.js";
import { applyJournalRepair, planJournalRepair } from "../store/ops/repair-journal.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";
import { intFlag, UsageError } from "./args.js";
import { openReplication } from "./replication.js";

export interface ControlPlaneOptions {
  readonly dataDir: string;
  /** `sqlite` (the default, in the data directory), `sqlite:/path`, or a `postgres://` URL. */
  readonly store: string;
  readonly host: string;
  readonly apiPort: number;
  readonly agentPort: number;
  readonly dnsPort: number;
  /**
   * The regions the API serves (`--regions`); absent: every well-formed region name. A request
   * acts in the region of its SigV4 credential scope.
   */
  readonly regions?: readonly string[];
  readonly dnsDomain: string;
  readonly zones: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Seconds between scheduled backups into `<data-dir>/backups` (default 3600). */
  readonly backupIntervalSeconds?: number;
  /** How many scheduled backups to keep (default 48). */
  readonly backupKeep?: number;
  /** Days of history a compaction never removes (default 90). */
  readonly retentionDays?: number;
}

/** The flags `ballast up` and `ballast control` share (parseArgs options). */
export const CONTROL_PLANE_FLAGS = {
  "data-dir": { type: "string", default: "./data" },
  store: { type: "string", default: "sqlite" },
  "api-port": { type: "string" },
  "agent-port": { type: "string" },
  "dns-port": { type: "string" },
  region: { type: "string", default: "us-east-1" },
  regions: { type: "string" },
  "dns-domain": { type: "string", default: "ballast.internal" },
  "backup-interval": { type: "string" },
  "backup-keep": { type: "string" },
  "retention-days": { type: "string" },
} as const;

/** What parseArgs gives for CONTROL_PLANE_FLAGS. */
export interface ControlPlaneFlagValues {
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
  };
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

export interface RunningControlPlane {
  readonly store: Store;
  readonly apiUrl: string;
  readonly agentUrl: string;
  readonly dnsPort: number;
  readonly agentToken: string;
  readonly accessKeyId: string;
  readonly credentialsFile: string | undefined;
  close(): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const { logger } = opts;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  // On PostgreSQL a replica among others: the state in memory, the workflows only while active.
  const replication = await openReplication(opts.store, opts.dataDir, logger);
  const { store, controller } = replication;
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse())
      await c().catch((e: unknown) => logger.error("close failed", { err: e }));
  };
  try {
    const admin = await ensureBootstrapAdmin({ store, dataDir: opts.dataDir, env: opts.env, logger });
    const agentToken = await readOrCreateSecret(join(opts.dataDir, "agent-token"));
    const authenticator = new SigV4Authenticator({
      lookup: async (id) => (await store.get("credential", id))?.doc,
      ...(opts.regions === undefined ? {} : { regions: opts.regions }),
      service: "elasticloadbalancing",
    });
    // Detect and repair, and the blast-radius guard that holds removals while the state is unverified.
    const monitor = new StateMonitor({ store: replication.database, logger, active: controller });
    monitor.start();
    closers.push(() => monitor.stop());
    const backupDir = join(opts.dataDir, "backups");
    const backups = new BackupScheduler({
      store,
      dir: backupDir,
      intervalMs: (opts.backupIntervalSeconds ?? 3600) * 1000,
      keep: opts.backupKeep ?? 48,
      logger: logger.child({ component: "backup" }),
      paused: () =>
        !controller.isActive()
          ? "a standby replica: the active controller takes the backups"
          : monitor.readOnly() === undefined
            ? undefined
            : "read-only mode: the journal is damaged",
    });
    // The workflows follow the controller lock: started on taking it, stopped the moment it is lost.
    const follow = (active: boolean): void => {
      if (!active) {
        backups.stop().catch((err: unknown) => logger.error("backup stop failed", { err }));
        return;
      }
      backups.start();
      monitor.check().catch((err: unknown) => logger.error("state check failed", { err }));
    };
    const unfollow = controller.onChange(follow);
    closers.push(() => backups.stop());
    closers.push(async () => {
      unfollow();
    });
    if (controller.isActive()) backups.start();

    const guard = new ChangeGuard({ store, logger, stateVerified: () => monitor.verified });
    const safety: SafetyControl = {
      holds: () => guard.holds(),
      release: (zone, principal) => guard.release(zone, principal),
      discard: (zone, principal) => guard.discard(zone, principal),
      stateCheck: () => monitor.last,
      readOnly: () => monitor.readOnly(),
    };

    // Refusals before authentication: one counter for /metrics, one rate-limited log for both APIs.
    const unauthenticated = unauthenticatedCounter();
    const noise = new UnauthenticatedNoise({
      logger: logger.child({ component: "api" }),
      counter: unauthenticated,
    });
    closers.push(async () => noise.flush());
    // Every call to either API, allowed or not, is recorded; batched, flushed on close.
    const audit = new AuditLog({ store, logger });
    closers.push(() => audit.close());
    // Read-only mode: while the monitor finds the journal damaged, the API's store refuses changes.
    // `state repair` alone works on the store itself, and has the state checked again at once.
    const repairOptions = { backupDir, dnsDomain: opts.dnsDomain };
    const repair: JournalRepairControl = {
      plan: async () => (await planJournalRepair(store, repairOptions)).plan,
      apply: async (meta) => {
        const applied = await applyJournalRepair(store, repairOptions, meta);
        logger.warn("journal repaired into a new epoch", {
          revision: applied.revision.number,
          principal: meta.principal,
          reason: meta.ticket,
          evidence: applied.evidence,
        });
        // A check already running when the epoch started would report the old journal: the
        // second call is a check that began after it.
        await monitor.check();
        const check = await monitor.check();
        return {
          ...applied,
          state: { verified: check.verified, alarms: check.alarms, readOnly: monitor.readOnly() ?? null },
        };
      },
    };
    const common = {
      store: gatedStore(store, monitor),
      authenticator,
      logger,
      zones: opts.zones,
      noise,
      audit,
    };
    const query = createAwsQueryHandler({ ...common, dnsDomain: opts.dnsDomain });
    const adminApi = createAdminHandler({
      ...common,
      backupDir,
      safety,
      repair,
      controlPlanes: () => replication.view(),
      ...(opts.retentionDays === undefined ? {} : { retentionDays: opts.retentionDays }),
    });
    const api = createServer((req, res) => {
      if (req.url?.startsWith("/admin/")) adminApi(req, res);
      else query(req, res);
    });
    answerClientErrorsAsAws(api);
    const apiPort = await listen(api, opts.apiPort, opts.host);
    closers.push(() => closeServer(api));

    const channel = new AgentChannel({
      store,
      token: agentToken,
      zones: opts.zones,
      logger,
      guard,
      monitor,
      counters: [unauthenticated, { render: () => replication.render() }],
    });
    const agentPort = await channel.listen(opts.agentPort, opts.host);
    closers.push(() => channel.close());
    // Contend for the controller lock once this replica serves: the first to start takes it.
    await replication.start(apiPort);
    closers.push(() => replication.stop());

    const dns = new DnsResponder({
      host: opts.host,
      port: opts.dnsPort,
      domain: `elb.${opts.dnsDomain}`,
      resolve: storeResolver(store),
      logger,
    });
    const { udpPort } = await dns.start();
    closers.push(() => dns.close());

    return {
      store,
      apiUrl: `http://${opts.host}:${apiPort}`,
      agentUrl: `http://${opts.host}:${agentPort}`,
      dnsPort: udpPort,
      agentToken,
      accessKeyId: admin.accessKeyId,
      credentialsFile: admin.credentialsFile,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

async function readOrCreateSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const secret = randomBytes(32).toString("base64url");
  const fh = await open(path, "wx", 0o600);
  try {
    await fh.writeFile(`${secret}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return secret;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
