/**
 * Authorization, after authentication: the policies that govern a caller are those attached to its
 * principal and the managed policy of its key's legacy role (model/access.ts); every request of a
 * call must be allowed by them, as IAM evaluates (model/iam-policy.ts), or the call is refused with
 * AWS's AccessDenied before anything runs.
 */
import {
  accessDenied,
  effectivePolicyNames,
  firstDenied,
  MANAGED_POLICIES,
  parseStoredPolicy,
} from "../../model/access.js";
import type { AccessRequest, PolicyDocument } from "../../model/iam-policy.js";
import type { Credential } from "../../model/types.js";
import type { Store } from "../../store/store.js";

/** Parsed customer policies, by document text: parsing is cheap, but a request should not repeat it. */
const PARSED = new Map<string, PolicyDocument | undefined>();

export class Authorizer {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The policy documents that govern `credential`: read from the store on every call (no stale grant). */
  async policies(credential: Credential): Promise<PolicyDocument[]> {
    const principal = (await this.#store.get("principal", credential.principal))?.doc;
    return this.documents(effectivePolicyNames(principal, credential));
  }

  /** The documents of the named policies (managed or stored); a name that names none is skipped. */
  async documents(names: readonly string[]): Promise<PolicyDocument[]> {
    const out: PolicyDocument[] = [];
    for (const name of names) {
      const managed = MANAGED_POLICIES.get(name);
      if (managed) {
        out.push(managed.document);
        continue;
      }
      const stored = (await this.#store.get("accessPolicy", name))?.doc;
      if (!stored) continue;
      let doc = PARSED.get(stored.document);
      if (!PARSED.has(stored.document)) {
        doc = parseStoredPolicy(stored.document);
        if (PARSED.size > 1000) PARSED.clear();
        PARSED.set(stored.document, doc);
      }
      if (doc) out.push(doc);
    }
    return out;
  }

  /** Resolves when every request is allowed; rejects with AccessDenied naming the first that is not. */
  async authorize(credential: Credential, requests: readonly AccessRequest[]): Promise<void> {
    const denied = firstDenied(await this.policies(credential), requests);
    if (denied) throw accessDenied(credential.principal, denied.request);
  }
}
