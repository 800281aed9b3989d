/** AddTags, RemoveTags, DescribeTags. */
import { BallastError } from "../../../model/errors.js";
import type { LoadBalancer, Tag } from "../../../model/types.js";
import { MAX_TAGS, requireMembers, Violations, validateTags } from "../../../model/validate.js";
import type { ActionContext, ActionDefinition } from "../context.js";
import { putLoadBalancer, requireLoadBalancer, requireLoadBalancerIn } from "../load-balancer-kit.js";
import type { QueryParams } from "../params.js";
import type { XmlValue } from "../xml.js";

function tagsXml(tags: readonly Tag[]): XmlValue {
  return tags.map((t) => ({ Key: t.key, Value: t.value }));
}

/** LoadBalancerNames of a tag action: required, at least one, at most `max` (DescribeTags: 20), de-duplicated. */
function loadBalancerNames(ctx: ActionContext, max = Number.POSITIVE_INFINITY): string[] {
  const names = ctx.params.strings("LoadBalancerNames");
  requireMembers({ loadBalancerNames: names });
  const list = names ?? [];
  const v = new Violations();
  if (list.length === 0)
    v.add(
      "Value '[]' at 'loadBalancerNames' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  if (list.length > max)
    v.add(
      `Value '[${list.join(", ")}]' at 'loadBalancerNames' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  v.throwIfAny();
  return [...new Set(list)];
}

function tagList(ctx: ActionContext): QueryParams[] {
  const tags = ctx.params.structs("Tags");
  requireMembers({ tags });
  if ((tags ?? []).length === 0)
    throw new BallastError(
      "ValidationError",
      "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  return tags ?? [];
}

/**
 * AddTags: a key already on the load balancer gets the new value (API docs). The limit of 10 tags
 * applies to the result; past it the call is TooManyTags and nothing changes. The API reference
 * says one load balancer per call, the model allows a list: every named one is tagged, atomically.
 */
async function addTags(ctx: ActionContext): Promise<XmlValue> {
  const names = loadBalancerNames(ctx);
  const tags = validateTags(tagList(ctx).map((t) => ({ key: t.string("Key"), value: t.string("Value") })));
  await ctx.store.mutate(ctx.meta, async (tx) => {
    for (const name of names) {
      const lb = await requireLoadBalancerIn(ctx, tx, name);
      const merged = new Map(lb.tags.map((t) => [t.key, t]));
      for (const t of tags) merged.set(t.key, t);
      if (merged.size > MAX_TAGS)
        throw new BallastError(
          "TooManyTags",
          `Load balancer ${name} would have ${merged.size} tags; at most ${MAX_TAGS} are allowed`,
        );
      const next = [...merged.values()];
      if (!sameTags(lb.tags, next)) putLoadBalancer(tx, { ...lb, tags: next });
    }
  });
  return {};
}

function sameTags(a: readonly Tag[], b: readonly Tag[]): boolean {
  return a.length === b.length && a.every((t, i) => t.key === b[i]?.key && t.value === b[i]?.value);
}

/** RemoveTags: keys not on the load balancer are ignored. */
async function removeTags(ctx: ActionContext): Promise<XmlValue> {
  const names = loadBalancerNames(ctx);
  const v = new Violations();
  const keys = tagList(ctx).map((t, i) => {
    const key = t.string("Key");
    v.length(key, `tags.${i + 1}.member.key`, 1, 128);
    return key;
  });
  v.throwIfAny();
  const gone = new Set(keys.filter((k): k is string => k !== undefined));
  await ctx.store.mutate(ctx.meta, async (tx) => {
    for (const name of names) {
      const lb = await requireLoadBalancerIn(ctx, tx, name);
      const tags = lb.tags.filter((t) => !gone.has(t.key));
      if (tags.length !== lb.tags.length) putLoadBalancer(tx, { ...lb, tags });
    }
  });
  return {};
}

async function describeTags(ctx: ActionContext): Promise<XmlValue> {
  const names = loadBalancerNames(ctx, 20);
  const found: LoadBalancer[] = [];
  for (const name of names) found.push(await requireLoadBalancer(ctx, name));
  return { TagDescriptions: found.map((lb) => ({ LoadBalancerName: lb.name, Tags: tagsXml(lb.tags) })) };
}

export const tagActions: Readonly<Record<string, ActionDefinition>> = {
  AddTags: { mutates: true, run: addTags },
  RemoveTags: { mutates: true, run: removeTags },
  DescribeTags: { mutates: false, run: describeTags },
};
