/**
 * What a request head is refused for by its size, and the refusals that are certain before the
 * head is complete: a bad or over-long method (400/405), an over-long request-target (414) and
 * an over-long head (431). The parser in `request.ts` calls `incomplete` while a head is still
 * arriving, so a slow client sending a huge head is answered as soon as it is too large.
 */
import { CR, LF, SP, TOKEN } from "./tokens.js";

/** A head the proxy must refuse with this status (and then close the connection). */
export interface RequestParseError {
  readonly error: 400 | 405 | 414 | 431;
  readonly reason: string;
}

/** Size limits of a request head. */
export interface RequestLimits {
  /** Longest head accepted, in bytes, e.g. 64 KiB; longer → 431. */
  readonly maxHeadBytes: number;
  /** Longest request-target accepted; longer → 414. Unlimited when absent. */
  readonly maxTargetBytes?: number;
}

export function fail(error: 400 | 405 | 414 | 431, reason: string): RequestParseError {
  return { error, reason };
}

/** An incomplete head: null while within limits; refusals that are already certain come early. */
export function incomplete(
  buf: Buffer,
  offset: number,
  p: number,
  limits: RequestLimits,
): RequestParseError | null {
  const len = buf.length;
  // The method is known to be bad as soon as its bytes are in.
  let i = p;
  while (i < len && i - p <= 127 && TOKEN[buf[i] as number] === 1) i++;
  if (i - p > 127) return fail(405, "method longer than 127 characters");
  if (i < len && buf[i] !== SP) {
    return fail(400, i === p ? "malformed request line" : "method is not a token");
  }
  if (len - offset >= limits.maxHeadBytes) return tooLarge(buf, p, limits);
  const maxTarget = limits.maxTargetBytes;
  if (maxTarget !== undefined && len - p > maxTarget + 1 && buf.indexOf(LF, p) < 0) {
    return targetTooLong(buf, i + 1, maxTarget) ? fail(414, "request target too long") : null;
  }
  return null;
}

/** A head over maxHeadBytes without its end: 414 when its request-target is over maxTargetBytes. */
function tooLarge(buf: Buffer, p: number, limits: RequestLimits): RequestParseError {
  const maxTarget = limits.maxTargetBytes;
  if (maxTarget !== undefined) {
    const sp = buf.indexOf(SP, p);
    if (sp >= 0 && sp - p <= 128 && targetTooLong(buf, sp + 1, maxTarget)) {
      return fail(414, "request target too long");
    }
  }
  return fail(431, "request head too large");
}

/** Whether the request-target starting at ts (to the next SP, CR, LF or the buffer's end) is too long. */
function targetTooLong(buf: Buffer, ts: number, maxTarget: number): boolean {
  const stop = Math.min(buf.length, ts + maxTarget + 1);
  for (let i = ts; i < stop; i++) {
    const c = buf[i];
    if (c === SP || c === CR || c === LF) return false;
  }
  return stop - ts > maxTarget;
}
