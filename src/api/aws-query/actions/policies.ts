/**
 * CreateLoadBalancerPolicy, CreateAppCookieStickinessPolicy, CreateLBCookieStickinessPolicy,
 * DeleteLoadBalancerPolicy, DescribeLoadBalancerPolicies, DescribeLoadBalancerPolicyTypes,
 * SetLoadBalancerPoliciesOfListener, SetLoadBalancerPoliciesForBackendServer.
 * The rules themselves live in the model (policies.ts); this is the wire around them.
 */
import { BallastError } from "../../../model/errors.js";
import {
  appCookieStickinessPolicy,
  lbCookieStickinessPolicy,
  type PolicyInput,
  policiesReferencing,
  validateBackendServerPolicies,
  validateListenerPolicies,
  validatePolicy,
} from "../../../model/policies.js";
import { findPolicyType, POLICY_TYPES, type PolicyType } from "../../../model/policy-types.js";
import { PREDEFINED_POLICIES, predefinedPolicy } from "../../../model/ssl-policies.js";
import type { BackendServerPolicies, LoadBalancer, LoadBalancerPolicy } from "../../../model/types.js";
import { requireMembers, Violations } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { putLoadBalancer, requireLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import { policyDescriptionXml, policyTypeDescriptionXml } from "../policies-xml.js";
import type { XmlValue } from "../xml.js";

/** TooManyPolicies past this many policies on one load balancer (a Ballast bound: AWS states none). */
export const MAX_POLICIES_PER_LOAD_BALANCER = 100;

function requirePolicyName(policyName: string | undefined): string {
  requireMembers({ policyName });
  const v = new Violations();
  v.length(policyName, "policyName", 1, 255);
  v.throwIfAny();
  return policyName ?? "";
}

/** Adds a validated policy to the named load balancer: the shared tail of the three Create actions. */
async function addPolicy(ctx: ActionContext, name: string, input: PolicyInput): Promise<XmlValue> {
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name);
    const existing = lb.policies ?? [];
    const policy = validatePolicy(input, existing);
    if (existing.length >= MAX_POLICIES_PER_LOAD_BALANCER)
      throw new BallastError(
        "TooManyPolicies",
        `Load balancer ${lb.name} already has ${existing.length} policies, the most it can have`,
      );
    putLoadBalancer(tx, { ...lb, policies: [...existing, policy] });
  });
  return {};
}

async function createLoadBalancerPolicy(ctx: ActionContext): Promise<XmlValue> {
  const { params } = ctx;
  const name = params.string("LoadBalancerName");
  const policyName = params.string("PolicyName");
  const policyTypeName = params.string("PolicyTypeName");
  requireMembers({ loadBalancerName: name, policyName, policyTypeName });
  const attributes = (params.structs("PolicyAttributes") ?? []).map((a) => ({
    name: a.string("AttributeName") ?? "",
    value: a.string("AttributeValue") ?? "",
  }));
  return addPolicy(ctx, name ?? "", {
    policyName: requirePolicyName(policyName),
    policyTypeName: policyTypeName ?? "",
    attributes,
  });
}

async function createAppCookieStickinessPolicy(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const policyName = ctx.params.string("PolicyName");
  const cookieName = ctx.params.string("CookieName");
  requireMembers({ loadBalancerName: name, policyName, cookieName });
  return addPolicy(
    ctx,
    name ?? "",
    appCookieStickinessPolicy(requirePolicyName(policyName), cookieName ?? ""),
  );
}

async function createLBCookieStickinessPolicy(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const policyName = ctx.params.string("PolicyName");
  const period = ctx.params.integer("CookieExpirationPeriod");
  requireMembers({ loadBalancerName: name, policyName });
  return addPolicy(ctx, name ?? "", lbCookieStickinessPolicy(requirePolicyName(policyName), period));
}

/** Where a policy is in use: the listeners and back-end ports that name it, and the policies that embed it. */
function usesOf(lb: LoadBalancer, policyName: string): readonly string[] {
  return [
    ...lb.listeners
      .filter((l) => (l.policyNames ?? []).includes(policyName))
      .map((l) => `the listener on port ${l.loadBalancerPort}`),
    ...(lb.backendServerPolicies ?? [])
      .filter((b) => b.policyNames.includes(policyName))
      .map((b) => `the back-end server on port ${b.instancePort}`),
    ...policiesReferencing(policyName, lb.policies ?? []).map((p) => `policy ${p}`),
  ];
}

async function deleteLoadBalancerPolicy(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const policyName = ctx.params.string("PolicyName");
  requireMembers({ loadBalancerName: name, policyName });
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    const policies = lb.policies ?? [];
    // The model lists no PolicyNotFound for this action: a policy that is not there is already deleted.
    if (!policies.some((p) => p.policyName === policyName)) return;
    const uses = usesOf(lb, policyName ?? "");
    if (uses.length > 0)
      throw new BallastError(
        "InvalidConfigurationRequest",
        `Policy ${policyName} is in use by ${uses.join(", ")}; remove it from there first`,
      );
    putLoadBalancer(tx, { ...lb, policies: policies.filter((p) => p.policyName !== policyName) });
  });
  return {};
}

function policyNotFound(policyName: string, where: string): BallastError {
  return new BallastError("PolicyNotFound", `There is no policy with name '${policyName}' ${where}`);
}

async function describeLoadBalancerPolicies(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const names = ctx.params.strings("PolicyNames") ?? [];
  let described: readonly {
    policyName: string;
    policyTypeName: string;
    attributes: LoadBalancerPolicy["attributes"];
  }[];
  if (name !== undefined) {
    const policies = (await requireLoadBalancer(ctx, name)).policies ?? [];
    described = names.map((n) => {
      const p = policies.find((x) => x.policyName === n);
      if (!p) throw policyNotFound(n, `for load balancer ${name}`);
      return p;
    });
    if (names.length === 0) described = policies;
  } else {
    // Without a load balancer: the predefined (sample) policies, by name or all of them.
    described =
      names.length === 0
        ? PREDEFINED_POLICIES
        : names.map((n) => {
            const p = predefinedPolicy(n);
            if (!p) throw policyNotFound(n, "among the predefined policies");
            return { ...p, policyName: n };
          });
  }
  return { PolicyDescriptions: described.map(policyDescriptionXml) };
}

async function describeLoadBalancerPolicyTypes(ctx: ActionContext): Promise<XmlValue> {
  const names = ctx.params.strings("PolicyTypeNames") ?? [];
  const types: readonly PolicyType[] =
    names.length === 0
      ? POLICY_TYPES
      : names.map((n) => {
          const t = findPolicyType(n);
          if (!t) throw new BallastError("PolicyTypeNotFound", `There is no policy type named '${n}'`);
          return t;
        });
  return { PolicyTypeDescriptions: types.map(policyTypeDescriptionXml) };
}

async function setLoadBalancerPoliciesOfListener(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const port = ctx.params.integer("LoadBalancerPort");
  const policyNames = ctx.params.strings("PolicyNames");
  requireMembers({ loadBalancerName: name, loadBalancerPort: port, policyNames });
  const wanted = [...new Set(policyNames ?? [])];
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    const listener = lb.listeners.find((l) => l.loadBalancerPort === port);
    if (!listener)
      throw new BallastError(
        "ListenerNotFound",
        `There is no listener for LoadBalancerPort ${port} on load balancer ${lb.name}`,
      );
    validateListenerPolicies(listener.protocol, wanted, lb.policies ?? []);
    const { policyNames: _old, ...rest } = listener;
    // An empty list clears: the listener is stored as if it never had policies.
    const updated = wanted.length === 0 ? rest : { ...rest, policyNames: wanted };
    const listeners = lb.listeners.map((l) => (l === listener ? updated : l));
    putLoadBalancer(tx, { ...lb, listeners });
  });
  return {};
}

async function setLoadBalancerPoliciesForBackendServer(ctx: ActionContext): Promise<XmlValue> {
  const name = ctx.params.string("LoadBalancerName");
  const instancePort = ctx.params.integer("InstancePort");
  const policyNames = ctx.params.strings("PolicyNames");
  requireMembers({ loadBalancerName: name, instancePort, policyNames });
  const v = new Violations();
  v.range(instancePort, "instancePort", 1, 65535);
  v.throwIfAny();
  const wanted = [...new Set(policyNames ?? [])];
  await ctx.store.mutate(ctx.meta, async (tx) => {
    const lb = await requireLoadBalancerIn(ctx, tx, name ?? "");
    validateBackendServerPolicies(wanted, lb.policies ?? []);
    const others = (lb.backendServerPolicies ?? []).filter((b) => b.instancePort !== instancePort);
    const entry: BackendServerPolicies = { instancePort: instancePort ?? 0, policyNames: wanted };
    const backendServerPolicies = (wanted.length === 0 ? others : [...others, entry]).sort(
      (a, b) => a.instancePort - b.instancePort,
    );
    const { backendServerPolicies: _old, ...rest } = lb;
    putLoadBalancer(tx, backendServerPolicies.length === 0 ? rest : { ...rest, backendServerPolicies });
  });
  return {};
}

export const policyActions: Readonly<Record<string, ActionDefinition>> = {
  CreateLoadBalancerPolicy: { mutates: true, run: createLoadBalancerPolicy },
  CreateAppCookieStickinessPolicy: { mutates: true, run: createAppCookieStickinessPolicy },
  CreateLBCookieStickinessPolicy: { mutates: true, run: createLBCookieStickinessPolicy },
  DeleteLoadBalancerPolicy: { mutates: true, run: deleteLoadBalancerPolicy },
  DescribeLoadBalancerPolicies: { mutates: false, run: describeLoadBalancerPolicies },
  DescribeLoadBalancerPolicyTypes: { mutates: false, run: describeLoadBalancerPolicyTypes },
  SetLoadBalancerPoliciesOfListener: { mutates: true, run: setLoadBalancerPoliciesOfListener },
  SetLoadBalancerPoliciesForBackendServer: { mutates: true, run: setLoadBalancerPoliciesForBackendServer },
};
