/**
 * DescribeLoadBalancerAttributes, ModifyLoadBalancerAttributes. A load balancer stores
 * `attributes` only once a modification changes them; every read goes through
 * `loadBalancerAttributes()`, which supplies ELB's defaults.
 */
import {
  DESYNC_MITIGATION_MODE,
  DESYNC_MODES,
  type LoadBalancerAttributesPatch,
  loadBalancerAttributes,
  withAttributes,
} from "../../../model/attributes.js";
import { BallastError } from "../../../model/errors.js";
import type { AccessLogAttribute, LoadBalancerAttributes } from "../../../model/types.js";
import { requireMembers, Violations } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { putLoadBalancer, requireLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import type { QueryParams } from "../params.js";
import type { XmlValue } from "../xml.js";

/** The LoadBalancerAttributes shape. A disabled access log is described by `Enabled` and what was set. */
export function attributesXml(a: LoadBalancerAttributes): XmlValue {
  return {
    CrossZoneLoadBalancing: { Enabled: a.crossZoneLoadBalancing.enabled },
    AccessLog: accessLogXml(a.accessLog),
    ConnectionDraining: { Enabled: a.connectionDraining.enabled, Timeout: a.connectionDraining.timeout },
    ConnectionSettings: { IdleTimeout: a.connectionSettings.idleTimeout },
    AdditionalAttributes: a.additionalAttributes.map((x) => ({ Key: x.key, Value: x.value })),
  };
}

function accessLogXml(l: AccessLogAttribute): XmlValue {
  return {
    Enabled: l.enabled,
    S3BucketName: l.s3BucketName,
    EmitInterval: l.enabled ? l.emitInterval : undefined,
    S3BucketPrefix: l.s3BucketPrefix,
  };
}

async function describeAttributes(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  requireMembers({ loadBalancerName: name });
  const lb = await requireLoadBalancer(ctx, name ?? "");
  return { LoadBalancerAttributes: attributesXml(loadBalancerAttributes(lb)) };
}

/** A boolean member as the Query protocol sends it: `true` or `false` (any case). */
function boolean(p: QueryParams, name: string, member: string, v: Violations): boolean | undefined {
  const raw = p.string(name);
  if (raw === undefined) return undefined;
  const lower = raw.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  v.add(`Value '${raw}' at '${member}' failed to satisfy constraint: Member must be a boolean`);
  return undefined;
}

/** S3 bucket naming rules: 3–63 lower-case letters, digits, dots and hyphens, a letter or digit at each end. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ADDITIONAL_TEXT = /^[a-zA-Z0-9.]+$/;

/**
 * Validation of the request, before the store. Ranges: ConnectionDraining.Timeout 1–3600 and
 * ConnectionSettings.IdleTimeout 1–4000 as the Classic ELB guide gives them (the model still says
 * 3600 for IdleTimeout; the service has accepted up to 4000 since 2017). Configuration ELB refuses —
 * an access log without a bucket, an interval other than 5 or 60, an unknown desync mode — is
 * InvalidConfigurationRequest; an additional attribute key ELB does not have is
 * LoadBalancerAttributeNotFound, the model's error for an attribute that does not exist.
 */
function readChange(root: QueryParams): LoadBalancerAttributesPatch {
  const v = new Violations();
  const at = "loadBalancerAttributes";
  let change: {
    -readonly [K in keyof LoadBalancerAttributesPatch]: LoadBalancerAttributesPatch[K];
  } = {};

  const cz = root.struct("CrossZoneLoadBalancing");
  if (cz) {
    const enabled = boolean(cz, "Enabled", `${at}.crossZoneLoadBalancing.enabled`, v);
    if (v.notNull(cz.string("Enabled"), `${at}.crossZoneLoadBalancing.enabled`) && enabled !== undefined)
      change = { ...change, crossZoneLoadBalancing: { enabled } };
  }

  const cd = root.struct("ConnectionDraining");
  if (cd) {
    const enabled = boolean(cd, "Enabled", `${at}.connectionDraining.enabled`, v);
    const timeout = cd.integer("Timeout");
    v.range(timeout, `${at}.connectionDraining.timeout`, 1, 3600);
    if (v.notNull(cd.string("Enabled"), `${at}.connectionDraining.enabled`) && enabled !== undefined)
      change = { ...change, connectionDraining: timeout === undefined ? { enabled } : { enabled, timeout } };
  }

  const cs = root.struct("ConnectionSettings");
  if (cs) {
    const idleTimeout = cs.integer("IdleTimeout");
    v.range(idleTimeout, `${at}.connectionSettings.idleTimeout`, 1, 4000);
    if (v.notNull(idleTimeout, `${at}.connectionSettings.idleTimeout`))
      change = { ...change, connectionSettings: { idleTimeout } };
  }

  const al = root.struct("AccessLog");
  if (al) {
    const enabled = boolean(al, "Enabled", `${at}.accessLog.enabled`, v);
    const s3BucketName = al.string("S3BucketName");
    const emitInterval = al.integer("EmitInterval");
    const s3BucketPrefix = al.string("S3BucketPrefix");
    if (v.notNull(al.string("Enabled"), `${at}.accessLog.enabled`) && enabled !== undefined)
      change = {
        ...change,
        accessLog: {
          enabled,
          ...(s3BucketName === undefined ? {} : { s3BucketName }),
          ...(emitInterval === undefined ? {} : { emitInterval }),
          ...(s3BucketPrefix === undefined ? {} : { s3BucketPrefix }),
        },
      };
  }

  const extra = root.structs("AdditionalAttributes");
  if (extra) {
    if (extra.length > 10)
      v.add(
        `Value at '${at}.additionalAttributes' failed to satisfy constraint: Member must have length less than or equal to 10`,
      );
    const pairs = extra.map((p, i) => {
      const key = p.string("Key") ?? "";
      const value = p.string("Value") ?? "";
      for (const [what, text] of [
        ["key", key],
        ["value", value],
      ] as const) {
        const member = `${at}.additionalAttributes.${i + 1}.member.${what}`;
        v.length(text, member, 1, 256);
        if (text !== "" && !ADDITIONAL_TEXT.test(text))
          v.add(
            `Value '${text}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9.]+$`,
          );
      }
      return { key, value };
    });
    change = { ...change, additionalAttributes: pairs };
  }
  v.throwIfAny();

  const log = change.accessLog;
  if (log?.enabled && log.s3BucketName === undefined)
    throw new BallastError(
      "InvalidConfigurationRequest",
      "AccessLog.S3BucketName is required when access logs are enabled.",
    );
  if (log?.s3BucketName !== undefined && !BUCKET.test(log.s3BucketName))
    throw new BallastError("InvalidConfigurationRequest", `Invalid S3 bucket name: ${log.s3BucketName}`);
  if (log?.emitInterval !== undefined && log.emitInterval !== 5 && log.emitInterval !== 60)
    throw new BallastError(
      "InvalidConfigurationRequest",
      `AccessLog.EmitInterval must be 5 or 60 minutes, not ${log.emitInterval}.`,
    );
  for (const { key, value } of change.additionalAttributes ?? []) {
    if (key !== DESYNC_MITIGATION_MODE)
      throw new BallastError(
        "LoadBalancerAttributeNotFound",
        `The load balancer attribute '${key}' does not exist; the supported additional attribute is ${DESYNC_MITIGATION_MODE}.`,
      );
    if (!(DESYNC_MODES as readonly string[]).includes(value))
      throw new BallastError(
        "InvalidConfigurationRequest",
        `${DESYNC_MITIGATION_MODE} must be one of ${DESYNC_MODES.join(", ")}, not '${value}'.`,
      );
  }
  return change;
}

/** The attributes as the request gave them: ModifyLoadBalancerAttributes echoes its input. */
function changeXml(c: LoadBalancerAttributesPatch): XmlValue {
  return {
    CrossZoneLoadBalancing: c.crossZoneLoadBalancing
      ? { Enabled: c.crossZoneLoadBalancing.enabled }
      : undefined,
    AccessLog: c.accessLog
      ? {
          Enabled: c.accessLog.enabled,
          S3BucketName: c.accessLog.s3BucketName,
          EmitInterval: c.accessLog.emitInterval,
          S3BucketPrefix: c.accessLog.s3BucketPrefix,
        }
      : undefined,
    ConnectionDraining: c.connectionDraining
      ? { Enabled: c.connectionDraining.enabled, Timeout: c.connectionDraining.timeout }
      : undefined,
    ConnectionSettings: c.connectionSettings ? { IdleTimeout: c.connectionSettings.idleTimeout } : undefined,
    AdditionalAttributes: c.additionalAttributes?.map((x) => ({ Key: x.key, Value: x.value })),
  };
}

async function modifyAttributes(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const root = ctx.params.struct("LoadBalancerAttributes");
  requireMembers({ loadBalancerName: name, loadBalancerAttributes: root });
  const key = name ?? "";
  const change = readChange(root as QueryParams);
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, key);
    const current = loadBalancerAttributes(lb);
    const next = withAttributes(current, change);
    // Only a real change is a revision, so `attributes` stays absent until something differs.
    if (JSON.stringify(next) !== JSON.stringify(current)) putLoadBalancer(tx, { ...lb, attributes: next });
  });
  return { LoadBalancerName: key, LoadBalancerAttributes: changeXml(change) };
}

export const attributeActions: Readonly<Record<string, ActionDefinition>> = {
  DescribeLoadBalancerAttributes: { mutates: false, run: describeAttributes },
  ModifyLoadBalancerAttributes: { mutates: true, run: modifyAttributes },
};
