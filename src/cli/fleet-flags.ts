/** The flags of placement, failover and scaling (`ballast up` and `ballast control`), and of the agent channel's TLS. */
import { DEFAULT_SCALING, type ScalingPolicy } from "../model/placement.js";
import { UsageError } from "./args.js";

export const FLEET_FLAGS = {
  "failover-timeout": {
    type: "string",
    arg: "SECONDS",
    defaultText: "15",
    help: "an agent silent this long is dead: its nodes move to another agent of its zone",
  },
  "failover-threshold": {
    type: "string",
    arg: "SHARE",
    defaultText: "50%",
    help: "more agents than this dead at once: nothing moves and an alarm is raised (the breaker)",
  },
  "scale-up-connections": {
    type: "string",
    arg: "N",
    defaultText: "500",
    help: "a node's average open connections past which its load balancer gets one more node",
  },
  "scale-up-rps": {
    type: "string",
    arg: "N",
    defaultText: "1000",
    help: "a node's requests per second past which its load balancer gets one more node",
  },
  "scale-cooldown": {
    type: "string",
    arg: "SECONDS",
    defaultText: "300",
    help: "time without a change before a load balancer loses a node it no longer needs",
  },
  "scale-up-cooldown": {
    type: "string",
    arg: "SECONDS",
    defaultText: "30",
    help: "time between two scale-ups of one load balancer",
  },
} as const;

export interface FleetFlagValues {
  readonly "failover-timeout"?: string | undefined;
  readonly "failover-threshold"?: string | undefined;
  readonly "scale-up-connections"?: string | undefined;
  readonly "scale-up-rps"?: string | undefined;
  readonly "scale-cooldown"?: string | undefined;
  readonly "scale-up-cooldown"?: string | undefined;
}

export interface FleetSettings {
  readonly failoverTimeoutMs: number;
  readonly failoverThreshold: number;
  readonly scaling: ScalingPolicy;
}

export function fleetFlagOptions(values: FleetFlagValues): { fleet: FleetSettings } {
  const seconds = (raw: string | undefined, name: string, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < min || n > 86_400)
      throw new UsageError(`--${name} must be a number of seconds from ${min} to 86400, got ${raw}`);
    return n;
  };
  const count = (raw: string | undefined, name: string, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1)
      throw new UsageError(`--${name} must be a whole number of at least 1, got ${raw}`);
    return n;
  };
  const threshold = values["failover-threshold"];
  let share = 0.5;
  if (threshold !== undefined) {
    const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(threshold);
    share = m === null ? Number.NaN : Number(m[1]) / (m[2] === "%" ? 100 : 1);
    if (!(share > 0 && share < 1))
      throw new UsageError(
        `--failover-threshold must be a share between 0 and 1, or a percentage (50%), got ${threshold}`,
      );
  }
  return {
    fleet: {
      failoverTimeoutMs: seconds(values["failover-timeout"], "failover-timeout", 15, 1) * 1000,
      failoverThreshold: share,
      scaling: {
        ...DEFAULT_SCALING,
        upConnections: count(
          values["scale-up-connections"],
          "scale-up-connections",
          DEFAULT_SCALING.upConnections,
        ),
        upRequestsPerSecond: count(
          values["scale-up-rps"],
          "scale-up-rps",
          DEFAULT_SCALING.upRequestsPerSecond,
        ),
        cooldownSeconds: seconds(
          values["scale-cooldown"],
          "scale-cooldown",
          DEFAULT_SCALING.cooldownSeconds,
          0,
        ),
        upCooldownSeconds: seconds(
          values["scale-up-cooldown"],
          "scale-up-cooldown",
          DEFAULT_SCALING.upCooldownSeconds,
          0,
        ),
      },
    },
  };
}

/** How the agent channel speaks: plain HTTP (one host), TLS with the control plane's own CA, or the operator's certificate. */
export type AgentTls =
  | { readonly kind: "off" }
  | { readonly kind: "own" }
  | { readonly kind: "given"; readonly certFile: string; readonly keyFile: string };

export function agentTlsFlags(
  mode: string | undefined,
  cert: string | undefined,
  key: string | undefined,
): AgentTls {
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");
  if (cert !== undefined && key !== undefined) {
    if (mode === "off") throw new UsageError("--agent-tls off cannot go with --tls-cert");
    return { kind: "given", certFile: cert, keyFile: key };
  }
  if (mode === undefined || mode === "on") return { kind: "own" };
  if (mode === "off") return { kind: "off" };
  throw new UsageError(`--agent-tls is on or off, got ${mode}`);
}
