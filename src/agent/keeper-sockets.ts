/**
 * The worker's side of the keeper: listening sockets asked of the keeper over the IPC channel
 * instead of bound here, so they stay open (with their accept queues) when this process exits.
 */
import type { ListenSocketSource } from "../proxy/bind.js";
import { isKeeperMessage, type KeeperMessage, type WorkerMessage } from "./keeper-protocol.js";

/** How long the keeper may take to answer (it binds at once; a longer wait means it is gone). */
const ANSWER_TIMEOUT_MS = 10_000;

interface Pending {
  readonly resolve: (handle: object) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class KeeperSockets implements ListenSocketSource {
  readonly #pending = new Map<number, Pending>();
  readonly #send: (m: WorkerMessage) => void;
  #next = 1;

  /**
   * `send` writes to the keeper; `onMessage` subscribes to what it answers (process.send and
   * process.on("message") in a worker).
   */
  constructor(
    send: (m: WorkerMessage) => void,
    onMessage: (cb: (m: unknown, handle: unknown) => void) => void,
    onDrain: (graceMs: number) => void,
  ) {
    this.#send = send;
    onMessage((m, handle) => {
      if (!isKeeperMessage(m)) return;
      if (m.kind === "drain") onDrain(m.graceMs);
      else this.#answer(m, handle);
    });
  }

  acquire(address: string, port: number): Promise<object> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the agent's keeper did not answer for ${address}:${port}`));
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      this.#send({ kind: "acquire", id, address, port });
    });
  }

  release(address: string, port: number): void {
    this.#send({ kind: "release", address, port });
  }

  ready(): void {
    this.#send({ kind: "ready" });
  }

  #answer(m: Extract<KeeperMessage, { kind: "socket" }>, handle: unknown): void {
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else if (typeof handle === "object" && handle !== null) p.resolve(handle);
    else p.reject(new Error("the agent's keeper sent no socket"));
  }
}
