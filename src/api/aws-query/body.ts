/**
 * Reading a request body, shared by the AWS Query and admin edges — only after the request's
 * head has authenticated (Authenticator.authenticateHead), and only up to the route's own limit.
 *
 * - The client declared the body's SHA-256 in `x-amz-content-sha256`: the signature covers that
 *   hash, so it is verified before a byte of the body is read; the body is then read up to the
 *   route's limit and must hash to what was declared.
 * - It did not: at most `min(limit, PRE_VERIFY_MAX_BYTES)` is read, then the signature is verified
 *   over the body's hash. A larger body (only a state import allows one) needs the declared hash.
 *
 * A body over the limit is refused (413 RequestEntityTooLarge) from its Content-Length, or as soon
 * as the bytes read pass the limit, without reading the rest: the handler closes the connection.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { BallastError } from "../../model/errors.js";
import type { Authenticated, PendingAuthentication } from "../auth/authenticator.js";

/** The most read of a body before its signature is verified: the bound on an unverified request. */
export const PRE_VERIFY_MAX_BYTES = 1024 * 1024;

/** The client closed the connection before its request body was complete. */
export class ClientClosedError extends Error {
  constructor() {
    super("the client closed the connection before the request body was complete");
    this.name = "ClientClosedError";
  }
}

/** Reads the body within `limit` and verifies the signature; see the module comment for the order. */
export async function readAuthenticatedBody(
  req: IncomingMessage,
  pending: PendingAuthentication,
  limit: number,
): Promise<{ body: Buffer; auth: Authenticated }> {
  const declaredLength = Number(req.headers["content-length"]);
  if (declaredLength > limit) throw tooLarge(limit);
  const declaredHash = pending.declaredPayloadHash;
  if (declaredHash !== undefined) {
    const auth = pending.verify(declaredHash);
    const body = await readBody(req, limit);
    if (sha256Hex(body) !== declaredHash) {
      throw new BallastError(
        "SignatureDoesNotMatch",
        "The x-amz-content-sha256 header does not match the SHA-256 of the request body.",
      );
    }
    return { body, auth };
  }
  const cap = Math.min(limit, PRE_VERIFY_MAX_BYTES);
  // No declared hash: more than the unverified bound is never read.
  if (declaredLength > cap) throw needsDeclaredHash(cap, limit);
  const body = await readBody(req, cap, () =>
    cap < limit ? needsDeclaredHash(cap, limit) : tooLarge(limit),
  );
  return { body, auth: pending.verify(sha256Hex(body)) };
}

/**
 * The body, rejecting once more than `limit` bytes arrive (from Content-Length, or counted) — the
 * rest is not read — and with ClientClosedError when the client goes away mid-body.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  overLimit: () => BallastError = () => tooLarge(limit),
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"]) > limit) {
      reject(overLimit());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(overLimit());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (): void => {
      cleanup();
      reject(new ClientClosedError());
    };
    const onClose = (): void => {
      if (req.complete) return;
      cleanup();
      reject(new ClientClosedError());
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onError);
    req.once("close", onClose);
  });
}

export function sha256Hex(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

function tooLarge(limit: number): BallastError {
  return new BallastError("RequestEntityTooLarge", `Request body exceeds the limit of ${limit} bytes.`);
}

function needsDeclaredHash(cap: number, limit: number): BallastError {
  return new BallastError(
    "RequestEntityTooLarge",
    `Request body exceeds ${cap} bytes, the most read before the signature is verified; sign its ` +
      `SHA-256 in the x-amz-content-sha256 header to send up to ${limit} bytes.`,
  );
}
