/**
 * The worker's side of the keeper: listening sockets (and the DNS responder's UDP socket) asked of
 * the keeper over the IPC channel instead of bound here, so they stay open (with their accept and
 * receive queues) when this process exits.
 */
import type { Socket as UdpSocket } from "node:dgram";
import type { DnsSocketSource, HeldDnsSockets } from "../dns/responder.js";
import type { ListenSocketSource } from "../proxy/bind.js";
import {
  isKeeperMessage,
  type KeeperMessage,
  type SocketProtocol,
  type WorkerMessage,
} from "./keeper-protocol.js";
import { setReceiving } from "./udp-handle.js";

/**
 * How long the keeper may go without answering any of the sockets asked of it (it binds at once;
 * a longer silence means it is gone). Measured from the last answer, not from each question: a
 * worker of 10,000 load balancers asks for 10,000 sockets at once, node passes handles over IPC
 * one at a time (each acknowledged), and the last is answered seconds after it was asked.
 */
const ANSWER_TIMEOUT_MS = 10_000;

interface Answer {
  readonly handle: object;
  readonly port: number | undefined;
}

interface Pending {
  readonly resolve: (a: Answer) => void;
  readonly reject: (err: Error) => void;
  readonly protocol: SocketProtocol;
  readonly what: string;
}

export class KeeperSockets implements ListenSocketSource, DnsSocketSource {
  readonly #pending = new Map<number, Pending>();
  readonly #send: (m: WorkerMessage) => void;
  #next = 1;
  /** Runs while questions are open; pushed back by every answer (see ANSWER_TIMEOUT_MS). */
  #watchdog: NodeJS.Timeout | undefined;
  readonly #silenceMs: number;

  /**
   * `send` writes to the keeper; `onMessage` subscribes to what it answers (process.send and
   * process.on("message") in a worker).
   */
  constructor(
    send: (m: WorkerMessage) => void,
    onMessage: (cb: (m: unknown, handle: unknown) => void) => void,
    onDrain: (graceMs: number) => void,
    silenceMs: number = ANSWER_TIMEOUT_MS,
  ) {
    this.#send = send;
    this.#silenceMs = silenceMs;
    onMessage((m, handle) => {
      if (!isKeeperMessage(m)) return;
      if (m.kind === "drain") onDrain(m.graceMs);
      else this.#answer(m, handle);
    });
  }

  async acquire(address: string, port: number): Promise<object> {
    return (await this.#ask(address, port, "tcp")).handle;
  }

  /**
   * The DNS responder's sockets: UDP first (port 0 is a free port the keeper keeps), then TCP on
   * the same port. The UDP socket arrives paused: `receive()` once something listens.
   */
  async acquireDns(address: string, port: number): Promise<HeldDnsSockets> {
    const udp = await this.#ask(address, port, "udp");
    const udpSocket = udp.handle as UdpSocket;
    const bound = udp.port ?? port;
    try {
      const tcp = await this.#ask(address, bound, "tcp");
      return { udp: udpSocket, tcp: tcp.handle, port: bound, receive: () => setReceiving(udpSocket, true) };
    } catch (e) {
      udpSocket.close();
      throw e;
    }
  }

  release(address: string, port: number): void {
    this.#send({ kind: "release", address, port });
  }

  ready(): void {
    this.#send({ kind: "ready" });
  }

  #ask(address: string, port: number, protocol: SocketProtocol): Promise<Answer> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, protocol, what: `${protocol} ${address}:${port}` });
      if (this.#watchdog === undefined) this.#arm();
      this.#send({ kind: "acquire", id, address, port, ...(protocol === "tcp" ? {} : { protocol }) });
    });
  }

  /** (Re)starts the silence timer; when it fires, every open question fails. */
  #arm(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      const open = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of open)
        p.reject(
          new Error(`the agent's keeper did not answer for ${p.what} (silent for ${this.#silenceMs} ms)`),
        );
    }, this.#silenceMs);
    this.#watchdog.unref();
  }

  #answer(m: Extract<KeeperMessage, { kind: "socket" }>, handle: unknown): void {
    const p = this.#pending.get(m.id);
    if (p === undefined) {
      // Asked, then given up on: a datagram socket would read (and drop) queries here.
      if (typeof handle === "object" && handle !== null && "close" in handle)
        (handle as { close(): void }).close();
      return;
    }
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) {
      clearTimeout(this.#watchdog);
      this.#watchdog = undefined;
    } else this.#arm();
    if (m.error !== undefined) p.reject(new Error(m.error));
    else if (typeof handle === "object" && handle !== null) {
      // node hands a dgram socket over already reading: nothing listens to it yet (same tick).
      if (p.protocol === "udp") setReceiving(handle as UdpSocket, false);
      p.resolve({ handle, port: m.port });
    } else p.reject(new Error("the agent's keeper sent no socket"));
  }
}
