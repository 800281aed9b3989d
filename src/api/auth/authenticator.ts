/**
 * The seam between the HTTP edge and request authentication. The AWS Query adapter and the
 * admin API call an Authenticator before any action runs; SigV4 is the implementation.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Credential } from "../../model/types.js";

export interface SignedRequest {
  readonly method: string;
  /** Path and query string as received, e.g. `/?Action=DescribeLoadBalancers`. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Authenticated {
  readonly credential: Credential;
  /** The region of the request's credential scope: where ELB actions act. */
  readonly region: string;
}

export interface Authenticator {
  /** Resolves with the caller, or rejects with a BallastError carrying the AWS auth error code. */
  authenticate(request: SignedRequest): Promise<Authenticated>;
}
