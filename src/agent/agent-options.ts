/**
 * What an agent is started with (src/cli/agent-worker.ts builds it from the command line and the
 * keeper's handles): its identity and pool, where the control plane is, and the sockets, caps and
 * side servers it runs with.
 */
import type { DnsSocketSource } from "../dns/responder.js";
import type { ListenSocketSource } from "../proxy/bind.js";
import type { ConnectionLimits } from "../proxy/connection-budget.js";
import type { Logger } from "../util/logger.js";

export interface AgentOptions {
  readonly agentId: string;
  readonly zone: string;
  readonly pool: string;
  readonly dataDir: string;
  /** The control plane's agent-channel endpoints (replicas), in the order to try them. */
  readonly controlUrls: readonly string[];
  readonly token: string;
  /** PEM of the CA the control plane's certificate must chain to (https endpoints). */
  readonly ca?: string;
  readonly logger: Logger;
  /** Seconds a config poll may wait on the control plane. */
  readonly pollWaitSeconds?: number;
  readonly statusIntervalMs?: number;
  /** How often a full status report goes even when partial ones are accepted (default 30 s). */
  readonly fullStatusEveryMs?: number;
  /**
   * Serve /metrics (Prometheus), /healthz and /readyz here (port 0: a free one); absent: off.
   * The address bound is written to `<dataDir>/metrics-address` for whoever scrapes it.
   */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** The region in access-log file names (default us-east-1). */
  readonly region?: string;
  /** Connection caps (default: from the open-file limit). */
  readonly connectionLimits?: ConnectionLimits;
  /** Answer DNS for the load balancers this agent serves (UDP and TCP), under `domain`. */
  readonly dns?: { readonly host: string; readonly port: number; readonly domain: string };
  /** Listening sockets held by the agent's keeper (src/agent/keeper.ts); else bound here. */
  readonly sockets?: ListenSocketSource;
  /** The DNS responder's UDP and TCP sockets, held by the keeper too; else bound here. */
  readonly dnsSockets?: DnsSocketSource;
  /**
   * Called once the last-known-good configuration serves, before DNS and metrics bind: under a
   * keeper, the worker this one replaces still holds those ports until it is told to drain.
   */
  readonly onServing?: () => void;
  /** Under a keeper: the worker processes it started (this one included) and those that crashed. */
  readonly workers?: { readonly starts: number; readonly crashes: number };
}
