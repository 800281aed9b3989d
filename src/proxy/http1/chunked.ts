/**
 * An incremental scanner for chunked message bodies (RFC 9112 §7.1). The proxy forwards the
 * bytes verbatim; this only finds where the body ends. Strict, so that no back end can read a
 * different boundary: CRLF everywhere (a bare LF or CR is malformed), hexadecimal sizes up to
 * 2^53 - 1, extensions without control characters, trailer lines that start with a token byte.
 */

import { CR, HEX, HTAB, LF, SP, TOKEN, VALUE_CLASS, VALUE_OK } from "./tokens.js";

const S_SIZE0 = 0; // the first hex digit of a chunk size
const S_SIZE = 1; // more hex digits, or what follows them
const S_WS = 2; // whitespace after the size, before ";"
const S_EXT = 3; // chunk extensions up to CR
const S_SIZE_LF = 4; // LF ending the size line
const S_DATA = 5; // chunk data
const S_DATA_CR = 6; // CR after chunk data
const S_DATA_LF = 7; // LF after chunk data
const S_TRAILER0 = 8; // start of a trailer line, or of the final empty line
const S_TRAILER = 9; // a trailer field line up to CR
const S_TRAILER_LF = 10; // LF ending a trailer field line
const S_END_LF = 11; // LF of the final empty line
const S_DONE = 12;
const S_ERROR = 13;

/** Limits of the scanner's framing lines. */
export interface ChunkedLimits {
  /** Longest size line (size and extensions) or trailer line, in bytes; default 16 KiB. */
  readonly maxLineBytes?: number;
  /** Longest trailer section, in bytes; default 64 KiB. */
  readonly maxTrailerBytes?: number;
}

/** Tracks where a chunked body ends while the bytes are forwarded verbatim. Handles chunk extensions and trailers. */
export class ChunkedScanner {
  private state = S_SIZE0;
  /** Bytes of chunk data still to come (S_DATA), or the size being read. */
  private remaining = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  /** Chunk data bytes seen so far (the body without its framing). */
  payloadBytes = 0;
  private readonly maxLine: number;
  private readonly maxTrailer: number;

  constructor(limits: ChunkedLimits = {}) {
    this.maxLine = limits.maxLineBytes ?? 16 * 1024;
    this.maxTrailer = limits.maxTrailerBytes ?? 64 * 1024;
  }

  /**
   * Scans buf[start, end). Returns the index just past the body's final CRLF if the body ends
   * inside this range, -1 if it needs more bytes, or -2 if the framing is malformed (then it
   * stays -2). Once the body has ended, returns `start` until reset().
   */
  scan(buf: Buffer, start: number, end: number): number {
    let state = this.state;
    if (state === S_DONE) return start;
    if (state === S_ERROR) return -2;
    let i = start;
    while (i < end) {
      if (state === S_DATA) {
        const n = Math.min(this.remaining, end - i);
        i += n;
        this.remaining -= n;
        this.payloadBytes += n;
        if (this.remaining === 0) state = S_DATA_CR;
        continue;
      }
      const c = buf[i++] as number;
      switch (state) {
        case S_SIZE0:
        case S_SIZE: {
          const d = HEX[c] as number;
          if (d >= 0) {
            this.remaining = this.remaining * 16 + d;
            if (this.remaining > Number.MAX_SAFE_INTEGER) return this.fail();
            state = S_SIZE;
          } else if (state === S_SIZE0) return this.fail();
          else if (c === CR) state = S_SIZE_LF;
          else if (c === 59) state = S_EXT;
          else if (c === SP || c === HTAB) state = S_WS;
          else return this.fail();
          break;
        }
        case S_WS:
          if (c === 59) state = S_EXT;
          else if (c !== SP && c !== HTAB) return this.fail();
          break;
        case S_EXT:
          if (c === CR) state = S_SIZE_LF;
          else if (VALUE_CLASS[c] !== VALUE_OK) return this.fail();
          break;
        case S_SIZE_LF:
          if (c !== LF) return this.fail();
          this.lineBytes = 0;
          state = this.remaining === 0 ? S_TRAILER0 : S_DATA;
          continue;
        case S_DATA_CR:
          if (c !== CR) return this.fail();
          state = S_DATA_LF;
          continue;
        case S_DATA_LF:
          if (c !== LF) return this.fail();
          state = S_SIZE0;
          continue;
        case S_TRAILER0:
          if (c === CR) state = S_END_LF;
          else if (TOKEN[c] === 1) state = S_TRAILER;
          else return this.fail();
          break;
        case S_TRAILER:
          if (c === CR) state = S_TRAILER_LF;
          else if (VALUE_CLASS[c] !== VALUE_OK) return this.fail();
          break;
        case S_TRAILER_LF:
          if (c !== LF) return this.fail();
          this.lineBytes = 0;
          state = S_TRAILER0;
          continue;
        case S_END_LF:
          if (c !== LF) return this.fail();
          this.state = S_DONE;
          return i;
      }
      // Bytes of a size line or trailer line: bounded.
      if (++this.lineBytes > this.maxLine) return this.fail();
      if (state >= S_TRAILER0 && ++this.trailerBytes > this.maxTrailer) return this.fail();
    }
    this.state = state;
    return -1;
  }

  /** Starts over for the next body. */
  reset(): void {
    this.state = S_SIZE0;
    this.remaining = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
    this.payloadBytes = 0;
  }

  private fail(): number {
    this.state = S_ERROR;
    return -2;
  }
}
