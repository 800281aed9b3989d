/** CreateLoadBalancerListeners, DeleteLoadBalancerListeners, SetLoadBalancerListenerSSLCertificate. */
import {
  certificateNotFound,
  isCertificateArn,
  listenerCertificateIds,
} from "../../../model/certificates.js";
import { BallastError } from "../../../model/errors.js";
import type { Listener } from "../../../model/types.js";
import {
  type ListenerInput,
  requireMembers,
  Violations,
  validateListeners,
} from "../../../model/validate.js";
import type { MutationTx } from "../../../store/store.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { putLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import type { QueryParams } from "../params.js";
import type { XmlValue } from "../xml.js";
import { assertListenerLimit, limitIn } from "./limits.js";

export function listenerInput(p: QueryParams): ListenerInput {
  return {
    protocol: p.string("Protocol"),
    loadBalancerPort: p.integer("LoadBalancerPort"),
    instanceProtocol: p.string("InstanceProtocol"),
    instancePort: p.integer("InstancePort"),
    sslCertificateId: p.string("SSLCertificateId"),
  };
}

/** Every certificate the listeners name must be in the certificate store (CertificateNotFound). */
export async function requireCertificates(tx: MutationTx, listeners: readonly Listener[]): Promise<void> {
  for (const id of listenerCertificateIds(listeners))
    if (!isCertificateArn(id) || !(await tx.get("certificate", id))) throw certificateNotFound(id);
}

const secure = (p: Listener["instanceProtocol"]): boolean => p === "HTTPS" || p === "SSL";

/**
 * The Listener shape's rule: listeners sharing an InstancePort agree on whether the back-end
 * connection is encrypted (HTTPS/SSL) or not (HTTP/TCP).
 */
function checkInstanceProtocols(listeners: readonly Listener[]): void {
  for (const a of listeners)
    for (const b of listeners)
      if (a.instancePort === b.instancePort && secure(a.instanceProtocol) !== secure(b.instanceProtocol))
        throw new BallastError(
          "InvalidConfigurationRequest",
          `Listeners on instance port ${a.instancePort} must all use a secure (HTTPS/SSL) or all an unencrypted (HTTP/TCP) instance protocol`,
        );
}

const sameListener = (a: Listener, b: Listener): boolean =>
  a.protocol === b.protocol &&
  a.instanceProtocol === b.instanceProtocol &&
  a.instancePort === b.instancePort &&
  (a.sslCertificateId ?? "") === (b.sslCertificateId ?? "");

async function createLoadBalancerListeners(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const raw = ctx.params.structs("Listeners");
  requireMembers({ loadBalancerName: name, listeners: raw });
  const requested = validateListeners((raw ?? []).map(listenerInput));
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    const added: Listener[] = [];
    for (const l of requested) {
      const existing = lb.listeners.find((e) => e.loadBalancerPort === l.loadBalancerPort);
      // An identical listener on the port already exists: nothing to do (the action's documentation).
      if (existing && sameListener(existing, l)) continue;
      if (existing)
        throw new BallastError(
          "DuplicateListener",
          `A listener already exists for ${lb.name} with LoadBalancerPort ${l.loadBalancerPort}, but with a different InstancePort, Protocol, or SSLCertificateId`,
        );
      added.push(l);
    }
    if (added.length === 0) return;
    const listeners = [...lb.listeners, ...added];
    assertListenerLimit(listeners.length, await limitIn(ctx, tx, "classic-listeners"));
    checkInstanceProtocols(listeners);
    await requireCertificates(tx, added);
    putLoadBalancer(tx, { ...lb, listeners });
  });
  return {};
}

async function deleteLoadBalancerListeners(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const ports = ctx.params.strings("LoadBalancerPorts");
  requireMembers({ loadBalancerName: name, loadBalancerPorts: ports });
  const v = new Violations();
  const numbers = (ports ?? []).map((p, i) => {
    const n = Number(p);
    if (p.trim() === "" || !Number.isSafeInteger(n))
      v.add(
        `Value '${p}' at 'loadBalancerPorts.${i + 1}.member' failed to satisfy constraint: Member must be an integer`,
      );
    return n;
  });
  v.throwIfAny();
  const gone = new Set(numbers);
  // A port without a listener is not an error: the listener is already gone (as ELB answers).
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    const listeners = lb.listeners.filter((l) => !gone.has(l.loadBalancerPort));
    if (listeners.length !== lb.listeners.length) putLoadBalancer(tx, { ...lb, listeners });
  });
  return {};
}

async function setLoadBalancerListenerSSLCertificate(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const port = ctx.params.integer("LoadBalancerPort");
  const certificateId = ctx.params.string("SSLCertificateId");
  requireMembers({ loadBalancerName: name, loadBalancerPort: port, sSLCertificateId: certificateId });
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    const listener = lb.listeners.find((l) => l.loadBalancerPort === port);
    if (!listener)
      throw new BallastError(
        "ListenerNotFound",
        `There is no listener for LoadBalancerPort ${port} on load balancer ${lb.name}`,
      );
    if (listener.protocol !== "HTTPS" && listener.protocol !== "SSL")
      throw new BallastError(
        "InvalidConfigurationRequest",
        `The listener on port ${port} is ${listener.protocol}; only HTTPS and SSL listeners take a certificate`,
      );
    const updated: Listener = { ...listener, sslCertificateId: certificateId ?? "" };
    await requireCertificates(tx, [updated]);
    const listeners = lb.listeners.map((l) => (l === listener ? updated : l));
    putLoadBalancer(tx, { ...lb, listeners });
  });
  return {};
}

export const listenerActions: Readonly<Record<string, ActionDefinition>> = {
  CreateLoadBalancerListeners: { mutates: true, run: createLoadBalancerListeners },
  DeleteLoadBalancerListeners: { mutates: true, run: deleteLoadBalancerListeners },
  SetLoadBalancerListenerSSLCertificate: { mutates: true, run: setLoadBalancerListenerSSLCertificate },
};
