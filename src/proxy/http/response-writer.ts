/**
 * Writes responses to one client connection (one per connection, begun again by each exchange):
 * a back end's, with the head held back until the first body bytes so both leave in one write
 * and the back-end connection paused while the client's socket is full, or the load balancer's
 * own error response.
 */
import type { Socket } from "node:net";
import { type ElbStatus, elbErrorBytes, elbResponse } from "./elb-errors.js";
import type { BackendConnection } from "./origin-pool.js";

/** Response bodies up to this size leave in the same buffer as their head. */
const COALESCE_LIMIT = 16 * 1024;

export class ResponseWriter {
  /** Bytes written to the client: the body, or the load balancer's own error response. */
  sent = 0;
  /** The load balancer's own status when it answered instead of a back end; 0 otherwise. */
  elbStatus = 0;
  readonly #socket: Socket;
  #pendingHead: string | null = null;
  /** The back-end connection paused until the client drains. */
  #paused: BackendConnection | null = null;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** A new exchange starts on the connection. */
  begin(): void {
    this.sent = 0;
    this.elbStatus = 0;
    this.#pendingHead = null;
    this.#paused = null;
  }

  /** Writes a head now (interim responses, a 101). */
  head(head: string): void {
    if (!this.#socket.destroyed) this.#socket.write(head, "latin1");
  }

  /** Answers with the load balancer's own error response instead of a back end's. */
  elbError(status: ElbStatus, keepAlive: boolean): void {
    this.elbStatus = status;
    if (!this.#socket.destroyed) this.#socket.write(elbResponse(status, keepAlive));
    this.sent += elbErrorBytes(status);
  }

  /** Holds the final head until the first body bytes (or `flush`). */
  holdHead(head: string): void {
    this.#pendingHead = head;
  }

  flush(): void {
    const head = this.#pendingHead;
    if (head === null) return;
    this.#pendingHead = null;
    this.head(head);
  }

  /** Body bytes read from `from` (null: no back end to pause, or to mark as holding the bytes). */
  body(b: Buffer, from: BackendConnection | null): void {
    this.sent += b.length;
    const s = this.#socket;
    if (s.destroyed) return;
    let out = b;
    const head = this.#pendingHead;
    if (head !== null) {
      this.#pendingHead = null;
      if (b.length > COALESCE_LIMIT) {
        s.write(head, "latin1");
      } else {
        // Heads are latin1 strings (one byte per character): one buffer, one write, one syscall.
        out = Buffer.allocUnsafe(head.length + b.length);
        out.write(head, 0, "latin1");
        b.copy(out, head.length);
      }
    }
    const flushed = s.write(out);
    if (from === null) return;
    // Left queued: the read buffer it may point into must not be reused.
    if (s.writableLength > 0) from.retained = true;
    if (!flushed && this.#paused === null) {
      this.#paused = from;
      from.socket.pause();
    }
  }

  /** The client drained (or the exchange is over): the back end may send again. */
  resume(): void {
    const conn = this.#paused;
    if (conn === null) return;
    this.#paused = null;
    conn.socket.resume();
  }
}
