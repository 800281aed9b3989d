/**
 * Reads a back end's response as it arrives: the head (interim 1xx heads passed on first), then
 * the body under the framing the exchange chose for it, handing each piece on as it comes.
 * Bytes are not copied except a head split across reads (a plain connection's read buffer is
 * reused, so nothing is kept that points into it).
 */
import { ChunkedScanner } from "../http1/chunked.js";
import { type ParsedResponse, parseResponseHead } from "../http1/response.js";

/** How a response body ends: not at all (no body), by length, by chunks, by close, or never (a tunnel). */
export type Framing = "none" | "length" | "chunked" | "close" | "tunnel";

/** Where a ResponseReader hands what it reads. */
export interface ResponseSink {
  /** An interim response head (1xx other than 101). */
  interim(r: ParsedResponse): void;
  /** The final head: how its body is framed, or null to stop reading (the exchange has failed it). */
  head(r: ParsedResponse): Framing | null;
  body(b: Buffer): void;
  /** The body ended; `extra` bytes followed it in the last read. */
  end(extra: number): void;
  /** Not a valid response: before the final head (a 502), or in a chunked body. */
  invalid(): void;
}

const HEAD = 0;
const LENGTH = 1;
const CHUNKED = 2;
const UNTIL_CLOSE = 3;
const TUNNEL = 4;
const DONE = 5;

const MAX_RESPONSE_HEAD = 64 * 1024;

export class ResponseReader {
  readonly #sink: ResponseSink;
  #state = HEAD;
  /** A head split across reads. */
  #partial: Buffer | null = null;
  #left = 0;
  #scanner: ChunkedScanner | null = null;
  #started = false;
  /** Bytes arrived after the response ended: the connection cannot carry another. */
  trailing = false;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** Nothing of a response has arrived. */
  get untouched(): boolean {
    return !this.#started && this.#partial === null;
  }

  /** The final head has been read (so the client may already have part of the response). */
  get started(): boolean {
    return this.#started;
  }

  /** The body runs until the back end closes. */
  get closeDelimited(): boolean {
    return this.#state === UNTIL_CLOSE;
  }

  get tunnel(): boolean {
    return this.#state === TUNNEL;
  }

  /** A chunked body's payload bytes so far (its length without the framing), or null. */
  get chunkedPayload(): number | null {
    return this.#scanner === null ? null : this.#scanner.payloadBytes;
  }

  /** Reads no more (the exchange answered or cut). */
  stop(): void {
    this.#state = DONE;
  }

  feed(chunk: Buffer): void {
    switch (this.#state) {
      case HEAD:
        this.#head(chunk);
        return;
      case LENGTH: {
        const n = Math.min(chunk.length, this.#left);
        this.#left -= n;
        this.#sink.body(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (this.#left === 0) this.#end(chunk.length - n);
        return;
      }
      case CHUNKED: {
        const r = (this.#scanner as ChunkedScanner).scan(chunk, 0, chunk.length);
        if (r === -2) {
          this.#state = DONE;
          this.#sink.invalid();
          return;
        }
        const end = r === -1 ? chunk.length : r;
        this.#sink.body(end === chunk.length ? chunk : chunk.subarray(0, end));
        if (r >= 0) this.#end(chunk.length - end);
        return;
      }
      case UNTIL_CLOSE:
      case TUNNEL:
        this.#sink.body(chunk);
        return;
      default:
        this.trailing = true;
    }
  }

  #end(extra: number): void {
    this.#state = DONE;
    this.#sink.end(extra);
  }

  #head(chunk: Buffer): void {
    let buf = chunk;
    const partial = this.#partial;
    if (partial !== null) {
      buf = Buffer.concat([partial, chunk]);
      this.#partial = null;
      // Parsed again only once an empty line (the end of a head) has arrived.
      const from = Math.max(0, partial.length - 3);
      if (buf.indexOf("\n\r\n", from, "latin1") === -1 && buf.indexOf("\n\n", from, "latin1") === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) {
          this.#state = DONE;
          this.#sink.invalid();
        } else {
          this.#partial = buf;
        }
        return;
      }
    }
    let off = 0;
    for (;;) {
      const r = parseResponseHead(buf, off, MAX_RESPONSE_HEAD);
      if (r === null) {
        this.#partial = Buffer.from(buf.subarray(off));
        return;
      }
      if ("error" in r) {
        this.#state = DONE;
        this.#sink.invalid();
        return;
      }
      off += r.headLength;
      if (r.status >= 200 || r.status === 101) {
        this.#final(r, buf, off);
        return;
      }
      this.#sink.interim(r);
      if (off >= buf.length) return;
    }
  }

  #final(r: ParsedResponse, buf: Buffer, off: number): void {
    const framing = this.#sink.head(r);
    const rest = buf.length - off;
    if (framing === null) {
      this.#state = DONE;
      return;
    }
    this.#started = true;
    if (framing === "none" || (framing === "length" && r.contentLength === 0)) {
      this.#end(rest);
      return;
    }
    if (framing === "length") {
      this.#state = LENGTH;
      this.#left = r.contentLength;
    } else if (framing === "chunked") {
      this.#state = CHUNKED;
      this.#scanner = new ChunkedScanner();
    } else {
      this.#state = framing === "tunnel" ? TUNNEL : UNTIL_CLOSE;
    }
    if (rest > 0) this.feed(off === 0 ? buf : buf.subarray(off));
  }
}
