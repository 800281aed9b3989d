/**
 * The control-plane process, composed: store, bootstrap credentials, the AWS Query API and the
 * admin API on one HTTP port, the agent channel on another, and the DNS responder. This is the
 * composition root; `api` and `controller` never import each other.
 *
 * The API port also answers GET /healthz and /readyz without credentials, and GET /metrics unless
 * `--metrics-listen` moves the metrics to an address of their own (see docs/METRICS.md).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createAdminHandler } from "../api/admin/handler.js";
import type { JournalRepairControl } from "../api/admin/journal-repair.js";
import { ApiMetrics } from "../api/api-metrics.js";
import { AuditLog } from "../api/auth/audit-log.js";
import { Authorizer } from "../api/auth/authorizer.js";
import { ensureBootstrapAdmin, twoPersonHint } from "../api/auth/bootstrap.js";
import { ChangeControl } from "../api/auth/change-control.js";
import { SigV4Authenticator } from "../api/auth/sigv4.js";
import { answerClientErrorsAsAws } from "../api/aws-query/client-error.js";
import { createAwsQueryHandler } from "../api/aws-query/handler.js";
import { createConsoleHandler, isConsolePath } from "../api/console.js";
import { UnauthenticatedNoise, unauthenticatedCounter } from "../api/unauthenticated.js";
import { AgentChannel } from "../controller/agent-channel.js";
import { Fleet } from "../controller/fleet.js";
import { ChangeGuard } from "../controller/guard.js";
import { StateMonitor } from "../controller/state-monitor.js";
import { DnsResponder } from "../dns/responder.js";
import { storeResolver } from "../dns/store-resolver.js";
import type { SafetyControl } from "../model/guard.js";
import { gatedStore } from "../store/ops/gated-store.js";
import { BackupScheduler } from "../store/ops/index.js";
import { applyJournalRepair, planJournalRepair } from "../store/ops/repair-journal.js";
import { removalLedgerFor } from "../store/removal-ledger.js";
import type { Store } from "../store/store.js";
import { trafficHistoryFor } from "../store/traffic-relay.js";
import { operatorTls, ownTls, type ServerTls } from "../util/control-tls.js";
import type { Logger } from "../util/logger.js";
import { observabilityRoute, startObservabilityServer, urlHost } from "../util/observability-server.js";
import type { MetricFamilies } from "../util/prometheus.js";
import { controlPlaneObservability } from "./control-plane-observability.js";
import type { AgentTls, FleetSettings } from "./fleet-flags.js";

/** How long the API keeps an idle client connection open (AWS's load balancers default to 60 s). */
const API_KEEP_ALIVE_MS = 65_000;

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
  /** The built web console served at /console (default: dist/console beside this build). */
  readonly consoleDir?: string;
  /** Removals by one principal within a minute on the ELB API past which a change ticket is needed (default 10). */
  readonly bulkThreshold?: number;
  /** Serve /metrics here (and no longer on the API port); /healthz and /readyz stay on both. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** Placement, failover and scaling settings (cli/fleet-flags.ts); absent: the defaults. */
  readonly fleet?: FleetSettings;
  /** The agent channel's TLS (absent: plain HTTP, for one host). */
  readonly agentTls?: AgentTls;
  /** True on the controller that runs workflows; absent: always (one control plane). */
  readonly isActiveController?: () => boolean;
}

/** Where `scripts/build-console` puts the console: dist/console, beside dist/src. */
export const DEFAULT_CONSOLE_DIR = resolve(import.meta.dirname, "../../console");

export interface RunningControlPlane {
  readonly store: Store;
  readonly apiUrl: string;
  readonly agentUrl: string;
  /** Where GET /metrics answers: the API port, or the --metrics-listen address. */
  readonly metricsUrl: string;
  readonly dnsPort: number;
  readonly agentToken: string;
  readonly accessKeyId: string;
  readonly credentialsFile: string | undefined;
  /** How to set up the two-person rule, while fewer than two principals may approve tickets. */
  readonly twoPersonHint: string | undefined;
  /** The CA file agents verify the agent channel with (its own CA); undefined for plain HTTP or the operator's certificate. */
  readonly agentCaFile: string | undefined;
  readonly fleet: Fleet;
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
    const hint = await twoPersonHint(store, new Authorizer(store));
    if (hint !== undefined) logger.warn(hint.replaceAll("\n", " "));
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
    // Placement, failover and scaling: journal decisions, made only on the active controller.
    const fleet = new Fleet({
      store,
      logger: logger.child({ component: "fleet" }),
      isActiveController: opts.isActiveController ?? (() => controller.isActive()),
      stateVerified: () => monitor.verified,
      paused: () => (monitor.readOnly() === undefined ? undefined : "read-only mode"),
      ...opts.fleet,
    });
    fleet.start();
    closers.push(() => fleet.stop());
    const safety: SafetyControl = {
      fleetAlarms: () => fleet.alarms(),
      holds: () => guard.holds(),
      release: (zone, by) => guard.release(zone, by),
      discard: (zone, by) => guard.discard(zone, by),
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
    // Every call to either API, allowed or not, is recorded (batched, flushed on close) and counted.
    const auditLog = new AuditLog({ store, logger });
    closers.push(() => auditLog.close());
    const apiMetrics = new ApiMetrics();
    const audit = apiMetrics.counting(auditLog);
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
    // The two-person rule: one for both APIs, so the bulk window sees every removal; on
    // PostgreSQL the window is a table every replica counts in, so replicas act as one.
    const removals = removalLedgerFor(replication.database, logger);
    closers.push(() => removals.close());
    const changeControl = new ChangeControl({
      store,
      logger,
      removals,
      ...(opts.bulkThreshold === undefined ? {} : { bulkThreshold: opts.bulkThreshold }),
    });
    const common = {
      store: gatedStore(store, monitor),
      authenticator,
      logger,
      zones: opts.zones,
      noise,
      audit,
      changeControl,
    };
    const query = createAwsQueryHandler({ ...common, dnsDomain: opts.dnsDomain });
    // Traffic figures: on PostgreSQL relayed among replicas, so any replica shows the fleet's.
    const relay = await trafficHistoryFor(replication.database, logger);
    const { traffic } = relay;
    closers.push(relay.close);
    const adminApi = createAdminHandler({
      ...common,
      traffic,
      backupDir,
      safety,
      repair,
      controlPlanes: () => replication.view(),
      ...(opts.retentionDays === undefined ? {} : { retentionDays: opts.retentionDays }),
    });
    // Read at scrape time: the agent channel adds its refusals once it exists.
    const families: MetricFamilies[] = [
      unauthenticated,
      ...changeControl.counters(),
      ...apiMetrics.families(),
      { renderInto: (exp) => exp.raw(fleet.metricsText()) },
      { renderInto: (exp) => exp.raw(replication.render()) },
      ...(relay.metrics === undefined ? [] : [relay.metrics]),
    ];
    // The database itself, not a replica's memory: /readyz and ballast_store_up say whether it answers.
    const observability = controlPlaneObservability({
      store: replication.database,
      monitor,
      guard,
      families,
      logger,
    });
    // /healthz and /readyz always on the API port; /metrics too unless --metrics-listen moves it.
    const onApiPort = {
      ...observability,
      ...(opts.metricsListen === undefined ? {} : { metrics: undefined }),
    };
    const consoleFiles = createConsoleHandler({ root: opts.consoleDir ?? DEFAULT_CONSOLE_DIR, logger });
    const api = createServer((req, res) => {
      if (observabilityRoute(onApiPort, req, res)) return;
      // The console's static files: not API calls, so not in the API's metrics.
      if (isConsolePath(req.url)) return consoleFiles(req, res);
      const admin = req.url?.startsWith("/admin/") === true;
      const start = performance.now();
      res.once("finish", () =>
        apiMetrics.duration.observe(admin ? "admin" : "elb", (performance.now() - start) / 1000),
      );
      if (admin) adminApi(req, res);
      else query(req, res);
    });
    answerClientErrorsAsAws(api);
    // An idle keep-alive connection is closed after 65 s, not node's 5 s: SDK clients pool their
    // connections, and one reused just as the server closes it fails with "socket hang up".
    api.keepAliveTimeout = API_KEEP_ALIVE_MS;
    const apiPort = await listen(api, opts.apiPort, opts.host);
    closers.push(() => closeServer(api));
    let metricsUrl = `http://${urlHost(opts.host)}:${apiPort}/metrics`;
    if (opts.metricsListen !== undefined) {
      const own = await startObservabilityServer(
        observability,
        opts.metricsListen.host,
        opts.metricsListen.port,
      );
      closers.push(() => own.close());
      metricsUrl = `http://${urlHost(own.host)}:${own.port}/metrics`;
    }

    const tls = await agentChannelTls(opts.agentTls, opts.dataDir, opts.host);
    const channel = new AgentChannel({
      store,
      placement: true,
      ...(tls === undefined ? {} : { tls }),
      token: agentToken,
      zones: opts.zones,
      logger,
      guard,
      monitor,
      counters: families,
      traffic,
    });
    families.push(channel.refusalFamilies);
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
      metricsUrl,
      agentUrl: `${tls === undefined ? "http" : "https"}://${opts.host}:${agentPort}`,
      agentCaFile: tls?.caFile,
      fleet,
      dnsPort: udpPort,
      agentToken,
      accessKeyId: admin.accessKeyId,
      credentialsFile: admin.credentialsFile,
      twoPersonHint: hint,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

async function agentChannelTls(
  mode: AgentTls | undefined,
  dataDir: string,
  host: string,
): Promise<ServerTls | undefined> {
  if (mode === undefined || mode.kind === "off") return undefined;
  return mode.kind === "given" ? operatorTls(mode.certFile, mode.keyFile) : ownTls(dataDir, host);
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
