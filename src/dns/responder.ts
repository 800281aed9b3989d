/**
 * Ballast's authoritative DNS responder: the DNSName of every load balancer resolves to the
 * addresses of its nodes. UDP and TCP on the same port (RFC 7766: TCP is mandatory, and it is
 * where a client goes after a truncated UDP answer).
 *
 * Nothing a client sends can crash it: an undecodable UDP datagram is dropped, an undecodable
 * TCP message closes that one connection.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../util/logger.js";
import { answerQuery, type Resolve, type ZoneOptions } from "./answer.js";

export interface DnsResponderOptions {
  readonly host: string;
  /** 0 picks a free port, the same one for UDP and TCP. */
  readonly port: number;
  readonly domain: string;
  readonly resolve: Resolve;
  readonly logger: Logger;
  /** TTL of answers and of negative answers (SOA minimum). Default 60 s. */
  readonly ttl?: number;
  /** A TCP connection with no complete query for this long is closed. Default 10 s. */
  readonly tcpIdleTimeoutMs?: number;
  /** See ZoneOptions.unknownName (default NXDOMAIN). */
  readonly unknownName?: "nxdomain" | "refused";
  /**
   * Sockets held by another process (an agent's keeper), used instead of binding here: they stay
   * open, and keep queueing queries, while one responder process hands over to the next.
   */
  readonly sockets?: DnsSocketSource;
}

/** Bound sockets for a responder: UDP (paused until `receive()`) and a TCP handle to listen on. */
export interface HeldDnsSockets {
  readonly udp: UdpSocket;
  readonly tcp: object;
  readonly port: number;
  receive(): void;
}

export interface DnsSocketSource {
  acquireDns(address: string, port: number): Promise<HeldDnsSockets>;
}

const DEFAULT_TTL = 60;
const DEFAULT_TCP_IDLE_MS = 10_000;
/** How often to retry when port 0 gave UDP a port that TCP cannot have. */
const BIND_ATTEMPTS = 10;
/** Queries one TCP connection may have waiting for an answer; a flood closes the connection. */
const MAX_PENDING_TCP = 64;
/** How long `close` waits for queries already read to be answered. */
const CLOSE_GRACE_MS = 2000;

export class DnsResponder {
  readonly #opts: DnsResponderOptions;
  readonly #zone: ZoneOptions;
  readonly #log: Logger;
  readonly #connections = new Set<Socket>();
  #udp: UdpSocket | undefined;
  #tcp: Server | undefined;
  /** UDP queries read and not yet answered: a shared socket is closed only between queries. */
  #udpInFlight = 0;
  #udpClosed: (() => void) | undefined;
  /** Closed: an answer that comes later has no socket to go out on. */
  #udpShut = false;
  /** Queries waiting for an answer on each TCP connection. */
  readonly #tcpPending = new Map<Socket, number>();
  #closing = false;

  constructor(opts: DnsResponderOptions) {
    this.#opts = opts;
    this.#zone = {
      domain: opts.domain,
      resolve: opts.resolve,
      ttl: opts.ttl ?? DEFAULT_TTL,
      ...(opts.unknownName === undefined ? {} : { unknownName: opts.unknownName }),
    };
    this.#log = opts.logger.child({ component: "dns" });
  }

  async start(): Promise<{ udpPort: number; tcpPort: number }> {
    if (this.#udp || this.#tcp) throw new Error("DnsResponder already started");
    const source = this.#opts.sockets;
    if (source !== undefined) {
      const held = await source.acquireDns(this.#opts.host, this.#opts.port);
      this.#listenUdp(held.udp);
      held.receive();
      this.#udp = held.udp;
      try {
        this.#tcp = await this.#listenTcp(held.tcp);
      } catch (e) {
        await this.close();
        throw e;
      }
      this.#log.info("dns responder listening on sockets held by the keeper", {
        host: this.#opts.host,
        port: held.port,
      });
      return { udpPort: held.port, tcpPort: held.port };
    }
    for (let attempt = 1; ; attempt++) {
      const udp = await this.#bindUdp(this.#opts.port);
      const port = udp.address().port;
      try {
        const tcp = await this.#bindTcp(port);
        this.#udp = udp;
        this.#tcp = tcp;
        this.#log.info("dns responder listening", { host: this.#opts.host, port, domain: this.#opts.domain });
        return { udpPort: port, tcpPort: port };
      } catch (e) {
        udp.close();
        const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (this.#opts.port !== 0 || !inUse || attempt >= BIND_ATTEMPTS) throw e;
      }
    }
  }

  /**
   * Stops answering. Queries already read are answered first: on sockets shared with a successor
   * (held by a keeper), every query not yet read is left in the kernel's queue for it, and every
   * query read here gets its answer — the UDP socket is closed at a moment none is in flight, a
   * TCP connection once its pending queries are answered.
   */
  async close(): Promise<void> {
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#closing = true;
    this.#tcp = undefined;
    for (const c of this.#connections) if ((this.#tcpPending.get(c) ?? 0) === 0) c.destroy();
    // A resolver that never answers must not hold the close: past the grace, cut what is left.
    const cut = setTimeout(() => {
      for (const c of this.#connections) c.destroy();
      this.#udpClosed?.();
    }, CLOSE_GRACE_MS);
    await Promise.all([
      udp ? this.#closeUdp(udp) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
    clearTimeout(cut);
    this.#udp = undefined;
  }

  #closeUdp(udp: UdpSocket): Promise<void> {
    return new Promise<void>((resolve) => {
      const close = (): void => {
        this.#udpClosed = undefined;
        this.#udpShut = true;
        udp.close(() => resolve());
      };
      if (this.#udpInFlight === 0) close();
      else this.#udpClosed = close;
    });
  }

  #udpAnswered(): void {
    this.#udpInFlight--;
    if (this.#udpInFlight === 0) this.#udpClosed?.();
  }

  #onResolveError = (e: unknown): void => {
    this.#log.warn("dns resolve failed, answering SERVFAIL", { error: e });
  };

  #bindUdp(port: number): Promise<UdpSocket> {
    const family = this.#opts.host.includes(":") ? "udp6" : "udp4";
    const socket = createSocket(family);
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, this.#opts.host, () => {
        socket.off("error", reject);
        this.#listenUdp(socket);
        resolve(socket);
      });
    });
  }

  #listenUdp(socket: UdpSocket): void {
    socket.on("error", (e) => this.#log.warn("dns udp socket error", { error: e }));
    socket.on("message", (msg, rinfo) => this.#onDatagram(socket, msg, rinfo));
  }

  #onDatagram(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    this.#udpInFlight++;
    answerQuery(this.#zone, msg, "udp", this.#onResolveError).then(
      (reply) => {
        if (!reply) {
          this.#log.debug("dns udp message dropped", { from: rinfo.address, bytes: msg.length });
          this.#udpAnswered();
          return;
        }
        if (this.#udpShut) return;
        socket.send(reply, rinfo.port, rinfo.address, (e) => {
          if (e) this.#log.debug("dns udp send failed", { error: e });
          this.#udpAnswered();
        });
      },
      (e: unknown) => {
        this.#log.error("dns udp answer failed", { error: e });
        this.#udpAnswered();
      },
    );
  }

  #bindTcp(port: number): Promise<Server> {
    return this.#listenTcp({ port, host: this.#opts.host, exclusive: true });
  }

  /** Listens on an address, or on a bound handle held by another process. */
  #listenTcp(where: object): Promise<Server> {
    const server = createServer((socket) => this.#onConnection(socket));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(where, () => {
        server.off("error", reject);
        server.on("error", (e) => this.#log.warn("dns tcp server error", { error: e }));
        resolve(server);
      });
    });
  }

  /** RFC 1035 §4.2.2 framing: a 2-byte length, then the message; many messages per connection. */
  #onConnection(socket: Socket): void {
    this.#connections.add(socket);
    socket.setTimeout(this.#opts.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_MS, () => socket.destroy());
    socket.on("close", () => {
      this.#connections.delete(socket);
      this.#tcpPending.delete(socket);
    });
    socket.on("error", (e) => this.#log.debug("dns tcp connection error", { error: e }));

    let buffered: Buffer = Buffer.alloc(0);
    // Answers go out in query order: each waits for the one before it.
    let queue: Promise<void> = Promise.resolve();
    let pending = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        if (++pending > MAX_PENDING_TCP) {
          socket.destroy();
          return;
        }
        this.#tcpPending.set(socket, pending);
        queue = queue
          .then(() => this.#answerTcp(socket, message))
          .finally(() => {
            pending--;
            this.#tcpPending.set(socket, pending);
            // Closing: a connection leaves once the queries it sent before are answered.
            if (this.#closing && pending === 0) socket.end();
          });
      }
    });
  }

  async #answerTcp(socket: Socket, message: Buffer): Promise<void> {
    if (socket.destroyed) return;
    const reply = await answerQuery(this.#zone, message, "tcp", this.#onResolveError).catch((e: unknown) => {
      this.#log.error("dns tcp answer failed", { error: e });
      return undefined;
    });
    if (!reply) {
      this.#log.debug("dns tcp message malformed, closing connection", { from: socket.remoteAddress });
      socket.destroy();
      return;
    }
    const frame = Buffer.alloc(2 + reply.length);
    frame.writeUInt16BE(reply.length, 0);
    reply.copy(frame, 2);
    socket.write(frame);
  }
}
