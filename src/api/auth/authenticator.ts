/**
 * The seam between the HTTP edge and request authentication. The AWS Query adapter and the
 * admin API call an Authenticator before any action runs; SigV4 is the implementation.
 *
 * In two steps, so nothing is buffered before authentication: `authenticateHead` checks what the
 * request line and headers carry (signature shape, credential scope, the access key, the clock)
 * before a byte of the body is read; `PendingAuthentication.verify` then checks the signature
 * over the body, read within the route's own limit.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Credential } from "../../model/types.js";

/** A request as its head arrives: no body yet. */
export interface RequestHead {
  readonly method: string;
  /** Path and query string as received, e.g. `/?Action=DescribeLoadBalancers`. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A request whose head checked out; its signature is still to be verified. */
export interface PendingAuthentication {
  /** Signed in the query string (a presigned URL) rather than the Authorization header. */
  readonly presigned: boolean;
  /**
   * The payload hash the client declared in `x-amz-content-sha256` (lower-case hex), when it did.
   * The signature covers it, so `verify` can run before the body is read.
   */
  readonly declaredPayloadHash: string | undefined;
  /**
   * Verifies the signature over the payload hash (the body's SHA-256, hex), and only then
   * resolves with the caller; rejects like `authenticate`.
   */
  verify(payloadHash: string): Authenticated;
}

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
  /** Signed in the query string (a presigned URL) rather than the Authorization header. */
  readonly presigned?: boolean;
}

export interface Authenticator {
  /** Resolves with the caller, or rejects with a BallastError carrying the AWS auth error code. */
  authenticate(request: SignedRequest): Promise<Authenticated>;
  /** The checks of the head alone, before any body is read (see the module comment). */
  authenticateHead(request: RequestHead): Promise<PendingAuthentication>;
}
