/**
 * Load-balancer attributes and the defaults Classic ELB gives them. A stored load balancer keeps
 * only what was set; every reader goes through `loadBalancerAttributes()`, so a default lives in
 * exactly one place.
 */
import type { LoadBalancer, LoadBalancerAttributes } from "./types.js";

export const DESYNC_MITIGATION_MODE = "elb.http.desyncmitigationmode";
export const DESYNC_MODES = ["monitor", "defensive", "strictest"] as const;
export type DesyncMitigationMode = (typeof DESYNC_MODES)[number];

export const DEFAULT_ATTRIBUTES: LoadBalancerAttributes = {
  // The API and CLI create load balancers with cross-zone balancing off (the console turns it on).
  crossZoneLoadBalancing: { enabled: false },
  connectionDraining: { enabled: false, timeout: 300 },
  connectionSettings: { idleTimeout: 60 },
  accessLog: { enabled: false, emitInterval: 60 },
  additionalAttributes: [{ key: DESYNC_MITIGATION_MODE, value: "defensive" }],
};

export function loadBalancerAttributes(lb: Pick<LoadBalancer, "attributes">): LoadBalancerAttributes {
  return lb.attributes ?? DEFAULT_ATTRIBUTES;
}

export function desyncMitigationMode(attributes: LoadBalancerAttributes): DesyncMitigationMode {
  const v = attributes.additionalAttributes.find((a) => a.key === DESYNC_MITIGATION_MODE)?.value;
  return (DESYNC_MODES as readonly string[]).includes(v ?? "") ? (v as DesyncMitigationMode) : "defensive";
}

/** What one ModifyLoadBalancerAttributes call sets, in the attributes' own names; each part absent when not sent. */
export interface LoadBalancerAttributesPatch {
  readonly crossZoneLoadBalancing?: { readonly enabled: boolean };
  readonly connectionDraining?: { readonly enabled: boolean; readonly timeout?: number };
  readonly connectionSettings?: { readonly idleTimeout: number };
  readonly accessLog?: {
    readonly enabled: boolean;
    readonly s3BucketName?: string;
    readonly emitInterval?: number;
    readonly s3BucketPrefix?: string;
  };
  readonly additionalAttributes?: readonly { readonly key: string; readonly value: string }[];
}

/** The attributes after `patch`: what it sends replaces, what it leaves out stays. */
export function withAttributes(
  current: LoadBalancerAttributes,
  patch: LoadBalancerAttributesPatch,
): LoadBalancerAttributes {
  const additional = new Map(current.additionalAttributes.map((x) => [x.key, x.value]));
  for (const { key, value } of patch.additionalAttributes ?? []) additional.set(key, value);
  const draining = patch.connectionDraining;
  const log = patch.accessLog;
  return {
    crossZoneLoadBalancing: patch.crossZoneLoadBalancing ?? current.crossZoneLoadBalancing,
    connectionDraining: draining
      ? { enabled: draining.enabled, timeout: draining.timeout ?? current.connectionDraining.timeout }
      : current.connectionDraining,
    connectionSettings: patch.connectionSettings ?? current.connectionSettings,
    accessLog: log
      ? {
          enabled: log.enabled,
          emitInterval: log.emitInterval ?? current.accessLog.emitInterval,
          ...(log.s3BucketName === undefined ? {} : { s3BucketName: log.s3BucketName }),
          ...(log.s3BucketPrefix === undefined ? {} : { s3BucketPrefix: log.s3BucketPrefix }),
        }
      : current.accessLog,
    additionalAttributes: [...additional].map(([key, value]) => ({ key, value })),
  };
}
