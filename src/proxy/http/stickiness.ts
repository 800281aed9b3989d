/**
 * Sticky sessions as Classic ELB does them, as the listener's spec states them:
 * - `lb-cookie`: the node issues its own `AWSELB` cookie naming the instance, with the spec's
 *   max age (none: a session cookie);
 * - `app-cookie`: when the application sets its cookie, the node adds an `AWSELB` session
 *   cookie, and requests carrying both go to that instance.
 * A request whose sticky instance is gone or unhealthy is balanced as usual and re-stuck.
 */
import { createHash } from "node:crypto";
import type { Stickiness } from "../../model/node-spec.js";

export const ELB_COOKIE = "AWSELB";

/** A listener's stickiness when it has one. */
export type StickyPolicy = Exclude<Stickiness, { readonly kind: "none" }>;

/** Stickiness of one request: the listener's policy and the `AWSELB` value the client sent. */
export interface StickyRequest {
  readonly policy: StickyPolicy;
  readonly token: string | undefined;
}

/**
 * The Set-Cookie line (or "") for a response from the back end whose token is `token`: the LB
 * cookie when the client does not already carry it; with an application cookie policy, an
 * `AWSELB` session cookie beside each new application cookie.
 */
export function stickyLineFor(
  sticky: StickyRequest,
  token: string,
  responseHeaders: readonly string[],
): string {
  if (sticky.policy.kind === "lb-cookie") {
    return sticky.token === token ? "" : stickyCookieLine(token, sticky.policy.maxAgeSeconds);
  }
  return responseSetsCookie(responseHeaders, sticky.policy.cookieName) ? stickyCookieLine(token, null) : "";
}

/** The opaque `AWSELB` value naming one instance of one load balancer (stable across restarts). */
export function stickyToken(loadBalancer: string, instanceId: string): string {
  return createHash("sha256")
    .update(`${loadBalancer}\0${instanceId}`)
    .digest("hex")
    .slice(0, 40)
    .toUpperCase();
}

/** The value of cookie `name` in a Cookie header value, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let i = header.indexOf(name);
  while (i !== -1) {
    const before = i === 0 ? 32 : header.charCodeAt(i - 1);
    const after = header.charCodeAt(i + name.length);
    if ((before === 32 || before === 59 || before === 9) && after === 61) {
      const start = i + name.length + 1;
      const end = header.indexOf(";", start);
      return header.slice(start, end === -1 ? header.length : end).trim();
    }
    i = header.indexOf(name, i + 1);
  }
  return undefined;
}

/** All Cookie header values of a request joined, or undefined when it sends none. */
export function requestCookies(headers: readonly string[]): string | undefined {
  let out: string | undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const n = headers[i] as string;
    if (n.length !== 6 || n.toLowerCase() !== "cookie") continue;
    out = out === undefined ? (headers[i + 1] as string) : `${out}; ${headers[i + 1] as string}`;
  }
  return out;
}

/** Whether a response sets cookie `name` (a Set-Cookie field starting with `name=`). */
export function responseSetsCookie(headers: readonly string[], name: string): boolean {
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const n = headers[i] as string;
    if (n.length !== 10 || n.toLowerCase() !== "set-cookie") continue;
    const v = (headers[i + 1] as string).trimStart();
    if (v.startsWith(name) && v.charCodeAt(name.length) === 61) return true;
  }
  return false;
}

/** The Set-Cookie line (with CRLF) that sticks a client to `token`. */
export function stickyCookieLine(token: string, maxAge: number | null): string {
  return maxAge === null
    ? `Set-Cookie: ${ELB_COOKIE}=${token};PATH=/\r\n`
    : `Set-Cookie: ${ELB_COOKIE}=${token};PATH=/;MAX-AGE=${maxAge}\r\n`;
}
