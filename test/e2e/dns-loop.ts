/**
 * A loop of DNS queries over UDP, one datagram per query and no retry, each waited for up to a
 * bound: what a test of a handover counts as answered or lost.
 */
import { createSocket } from "node:dgram";
import dnsPacket from "dns-packet";

export interface DnsTally {
  answered: number;
  /** Sent and never answered within the bound. */
  unanswered: number;
  /** Answered with anything but NOERROR and the expected address. */
  wrong: number;
  /** The slowest answer, ms. */
  maxMs: number;
}

/** One query at a time per loop, `concurrency` loops, until `stop()`; at most `maxQueries` in all. */
export function dnsLoop(
  server: { host: string; port: number },
  name: string,
  expected: string,
  { concurrency = 2, timeoutMs = 3000, maxQueries = 100_000 } = {},
): { tally: DnsTally; stop: () => Promise<DnsTally> } {
  const tally: DnsTally = { answered: 0, unanswered: 0, wrong: 0, maxMs: 0 };
  const socket = createSocket(server.host.includes(":") ? "udp6" : "udp4");
  const waiting = new Map<number, (reply: Buffer) => void>();
  socket.on("message", (msg) => waiting.get(msg.readUInt16BE(0))?.(msg));
  let running = true;
  let sent = 0;
  let nextId = 1;
  const query = (): Promise<void> => {
    const id = nextId++ & 0xffff;
    const t0 = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        tally.unanswered++;
        resolve();
      }, timeoutMs);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        waiting.delete(id);
        tally.answered++;
        tally.maxMs = Math.max(tally.maxMs, performance.now() - t0);
        const decoded = dnsPacket.decode(reply) as {
          rcode?: string;
          answers?: { type: string; data?: unknown }[];
        };
        const a = decoded.answers?.find((r) => r.type === "A");
        if (decoded.rcode !== "NOERROR" || a?.data !== expected) tally.wrong++;
        resolve();
      });
      socket.send(
        dnsPacket.encode({
          type: "query",
          id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: "A", name }],
        }),
        server.port,
        server.host,
      );
    });
  };
  const loop = async (): Promise<void> => {
    while (running && sent < maxQueries) {
      sent++;
      await query();
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    tally,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      socket.close();
      return tally;
    },
  };
}
