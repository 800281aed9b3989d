/**
 * The row format of the conformance table. A row is client-neutral: params are the SDK v3 input
 * shape (also botocore's, so boto3 kwargs and the CLI's --cli-input-json), and the string `$LB`
 * anywhere in params or setup stands for the case's own, freshly named load balancer.
 */
import type { ClientName, Outcome } from "./clients.js";
import type { Json, JsonObject } from "./json.js";

export type Params = JsonObject;

/** A call made through the SDK before the case runs; it must succeed. */
export interface Step {
  readonly action: string;
  readonly params: Params;
}

export interface CaseContext {
  /** The case's load balancer name (what `$LB` became). */
  readonly lb: string;
  /** The outputs of the setup steps, in order. */
  readonly setup: readonly Json[];
  readonly client: ClientName;
  /** A call through the SDK, to read state back after the call under test. */
  call(action: string, params: Params): Promise<Outcome>;
}

export type Expect =
  | {
      readonly ok: (output: Json, ctx: CaseContext) => void | Promise<void>;
      /** When given: exactly this many revisions appended by the call. */
      readonly revisions?: number;
    }
  | { readonly error: string; readonly status: number };

export interface ConformanceCase {
  readonly action: string;
  readonly name: string;
  readonly params: Params | ((ctx: Pick<CaseContext, "lb" | "setup">) => Params);
  readonly expect: Expect;
  readonly setup?: readonly Step[];
  /**
   * botocore (boto3 and the CLI) validates some members before sending: required members,
   * minimum values and lengths, types. For such a case a client-side rejection is accepted too.
   */
  readonly clientMayReject?: boolean;
  /** Run through the (slow) aws CLI too: by default success cases do, error cases do not. */
  readonly cli?: boolean;
  /** A known API bug: the case states the right behaviour and is reported, not failed. */
  readonly todo?: string;
}

export function runsOnCli(c: ConformanceCase): boolean {
  return c.cli ?? "ok" in c.expect;
}

export const LB = "$LB";

/** Replaces `$LB` in every string of a params value. */
export function substitute(value: Json, lb: string): Json {
  if (typeof value === "string") return value.replaceAll(LB, lb);
  if (Array.isArray(value)) return value.map((v: Json) => substitute(v, lb));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, lb);
    return out;
  }
  return value;
}
