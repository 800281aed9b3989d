/**
 * A request's body, for requests that have one: where it ends (by Content-Length or by chunks),
 * how it flows (written to the back-end connection, the client paused while that connection is
 * full), and the bytes the exchange must hold on to — what arrives before it has a back-end
 * connection (queued, bounded by pausing the client), and, while the body is small, what it has
 * sent, so a connection that failed before any answer can be replayed on another back end.
 */
import type { Socket } from "node:net";
import { ChunkedScanner } from "../http1/chunked.js";

/** Request bodies up to this size are kept until the response starts, so a failed connect can retry. */
const REPLAY_LIMIT = 64 * 1024;
/** A queued request's body is buffered up to this much before the client is paused. */
const QUEUED_LIMIT = 256 * 1024;

export class RequestBody {
  /** Body bytes received from the client so far. */
  bytes = 0;
  /** The whole body has arrived. */
  done = false;
  /** Bytes of Content-Length left; -1 for a chunked body. */
  #left: number;
  readonly #scanner: ChunkedScanner | null;
  #queued: Buffer[] | null = null;
  #queuedBytes = 0;
  #replay: Buffer[] | null = null;
  #replayBytes = 0;
  #replayable = true;
  /** The client's socket, paused while the body backs up. */
  readonly #client: Socket;
  #pausedClient = false;

  /** `contentLength` > 0, or -1 with `chunked`; `client` is the socket the body comes from. */
  constructor(contentLength: number, chunked: boolean, client: Socket) {
    this.#left = chunked ? -1 : contentLength;
    this.#scanner = chunked ? new ChunkedScanner() : null;
    this.#client = client;
  }

  /**
   * Where this body ends in buf[off, …): the offset just past it (buf.length while it goes on),
   * or -1 when the chunked framing is malformed.
   */
  end(buf: Buffer, off: number): number {
    if (this.#scanner === null) {
      const end = Math.min(buf.length, off + this.#left);
      this.#left -= end - off;
      if (this.#left === 0) this.done = true;
      return end;
    }
    const r = this.#scanner.scan(buf, off, buf.length);
    if (r === -2) return -1;
    if (r === -1) return buf.length;
    this.done = true;
    return r;
  }

  /** Whether everything sent so far is still held (a retry can resend it). */
  get replayable(): boolean {
    return this.#replayable;
  }

  /**
   * Body bytes from the client: written to `conn`, or queued while there is no connection yet.
   * The client pauses when the connection is full or the queue is over its bound.
   */
  send(b: Buffer, conn: Socket | null): void {
    this.bytes += b.length;
    if (conn === null) {
      if (this.#queued === null) this.#queued = [b];
      else this.#queued.push(b);
      this.#queuedBytes += b.length;
      if (this.#queuedBytes > QUEUED_LIMIT) this.#pause();
      return;
    }
    this.#keep(b);
    if (!conn.write(b)) this.#pause();
  }

  /** The connection drained (or a new one took the queue): the client may send again. */
  resumeClient(): void {
    if (!this.#pausedClient || this.#queuedBytes > 0) return;
    this.#pausedClient = false;
    this.#client.resume();
  }

  #pause(): void {
    if (this.#pausedClient) return;
    this.#pausedClient = true;
    this.#client.pause();
  }

  /** Writes (after the head) what a new connection must carry: with `resend`, what an earlier one already got. */
  flushTo(socket: Socket, resend: boolean): void {
    if (resend && this.#replay !== null) for (const b of this.#replay) socket.write(b);
    const queued = this.#queued;
    if (queued === null) return;
    this.#queued = null;
    this.#queuedBytes = 0;
    for (const b of queued) {
      socket.write(b);
      this.#keep(b);
    }
  }

  /** The response has started: nothing will be resent. */
  release(): void {
    this.#replayable = false;
    this.#replay = null;
  }

  #keep(b: Buffer): void {
    if (!this.#replayable) return;
    this.#replayBytes += b.length;
    if (this.#replayBytes > REPLAY_LIMIT) this.release();
    else if (this.#replay === null) this.#replay = [b];
    else this.#replay.push(b);
  }
}
