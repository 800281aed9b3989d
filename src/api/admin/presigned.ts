/**
 * Which admin calls a presigned URL (SigV4 in the query string) may make. A presigned URL is a
 * bearer token that lives up to seven days in browser histories, proxy logs and chat messages:
 * it may read, but never maintain (restore, import, compaction, backups, repair, guard release
 * and discard — every admin call that is not a GET) nor take the whole state away (export).
 */
import { BallastError } from "../../model/errors.js";
import { STATE_PREFIX } from "./state.js";

export function presignedAllowed(method: string, path: string): boolean {
  return method === "GET" && path !== `${STATE_PREFIX}/export`;
}

/** Throws AccessDenied for a presigned request to a call that refuses presigned URLs. */
export function refusePresigned(method: string, path: string): void {
  if (presignedAllowed(method, path)) return;
  throw new BallastError(
    "AccessDenied",
    `${method} ${path} does not accept presigned (query-string) authentication: sign the request ` +
      "with an Authorization header.",
  );
}
