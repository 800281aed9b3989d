/**
 * The botocore service model of ELB 2012-06-01, read through the installed botocore (the same
 * model the CLI and boto3 use), with botocore's own snake_case names for every operation.
 */
import { execFileSync } from "node:child_process";
import type { Json } from "./json.js";

export interface ShapeRef {
  readonly shape: string;
  readonly locationName?: string;
}

export interface Shape {
  readonly type: string;
  readonly required?: readonly string[];
  readonly members?: Readonly<Record<string, ShapeRef>>;
  readonly member?: ShapeRef;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly exception?: boolean;
  readonly error?: { readonly code: string; readonly httpStatusCode: number };
}

export interface Operation {
  readonly name: string;
  readonly input?: ShapeRef;
  readonly errors?: readonly ShapeRef[];
}

export interface ServiceModel {
  readonly botocoreVersion: string;
  readonly operations: Readonly<Record<string, Operation>>;
  readonly shapes: Readonly<Record<string, Shape>>;
  /** botocore.xform_name of each operation: boto3's method name; the CLI's is it with dashes. */
  readonly snake: Readonly<Record<string, string>>;
}

const SCRIPT = `
import json, botocore, botocore.session
from botocore import xform_name
m = botocore.session.get_session().get_service_data("elb")
print(json.dumps({"botocoreVersion": botocore.__version__, "operations": m["operations"],
  "shapes": m["shapes"], "snake": {op: xform_name(op) for op in m["operations"]}}))
`;

let cached: ServiceModel | undefined;

export function serviceModel(): ServiceModel {
  cached ??= JSON.parse(execFileSync("python3", ["-c", SCRIPT], { encoding: "utf8" })) as ServiceModel;
  return cached;
}

export function shape(model: ServiceModel, name: string): Shape {
  const s = model.shapes[name];
  if (!s) throw new Error(`no shape ${name} in the ELB model`);
  return s;
}

/** The wire code and status of every error an operation lists. */
export function operationErrors(model: ServiceModel, op: string): { code: string; status: number }[] {
  return (model.operations[op]?.errors ?? []).map((ref) => {
    const e = shape(model, ref.shape).error;
    if (!e) throw new Error(`error shape ${ref.shape} has no awsQueryError trait`);
    return { code: e.code, status: e.httpStatusCode };
  });
}

/**
 * The smallest input that passes botocore's client-side validation: every required member, at its
 * minimum length or value. Used for actions Ballast does not implement yet, where only the
 * server's answer matters.
 */
export function minimalInput(model: ServiceModel, op: string): Json {
  const input = model.operations[op]?.input;
  return input ? exampleValue(model, input.shape, 0) : {};
}

function exampleValue(model: ServiceModel, name: string, depth: number): Json {
  const s = shape(model, name);
  switch (s.type) {
    case "string":
      return s.enum?.[0] ?? "conformance".padEnd(s.min ?? 1, "x");
    case "integer":
    case "long":
      return s.min ?? 1;
    case "boolean":
      return true;
    case "list":
      return s.member && depth < 6
        ? Array.from({ length: Math.max(1, s.min ?? 1) }, () =>
            exampleValue(model, s.member?.shape ?? "", depth + 1),
          )
        : [];
    case "structure": {
      const out: Record<string, Json> = {};
      for (const member of s.required ?? []) {
        const ref = s.members?.[member];
        if (ref) out[member] = exampleValue(model, ref.shape, depth + 1);
      }
      return out;
    }
    default:
      return {};
  }
}
