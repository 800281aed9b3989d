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
