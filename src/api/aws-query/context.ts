/** What an action handler gets: the parsed request, who sent it, and the service settings. */
import type { Credential } from "../../model/types.js";
import type { RevisionMeta, Store } from "../../store/store.js";
import type { QueryParams } from "./params.js";
import type { XmlValue } from "./xml.js";

export interface QuerySettings {
  readonly dnsDomain: string;
  /**
   * The availability zones this deployment has agents in; the first is where bare IPs live. A
   * load balancer may use any zone of its region, with an agent or not.
   */
  readonly zones: readonly string[];
  /**
   * The default of the `classic-load-balancers` limit when no `limit` entity sets it (ELB's 20;
   * tests lower it). The limits themselves live in the store (admin API `/admin/v1/limits`).
   */
  readonly maxLoadBalancers: number;
  readonly now: () => Date;
  readonly randomBytes: (n: number) => Uint8Array;
}

export interface ActionContext {
  readonly store: Store;
  readonly params: QueryParams;
  /** The revision metadata for any mutation this request makes. */
  readonly meta: RevisionMeta;
  readonly credential: Credential;
  /** The region of the request's SigV4 credential scope: every action acts in it alone. */
  readonly region: string;
  readonly settings: QuerySettings;
}

export interface ActionDefinition {
  /** Whether the action writes desired state (authorization is by policy: model/access.ts). */
  readonly mutates: boolean;
  readonly run: (ctx: ActionContext) => Promise<XmlValue>;
}
