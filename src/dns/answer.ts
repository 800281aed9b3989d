/**
 * The DNS logic without sockets: one query message in, one response message out (or nothing,
 * for a message that is not a well-formed query). Authoritative for one domain and nothing else.
 */
import dnsPacket from "dns-packet";
import { normalizeName } from "../model/dns-records.js";

export type Resolve = (name: string) => Promise<readonly string[] | undefined>;

export interface ZoneOptions {
  /** Names equal to or ending in this domain are ours, e.g. "elb.ballast.internal". */
  readonly domain: string;
  readonly resolve: Resolve;
  readonly ttl: number;
  /**
   * How to answer a name in the domain that `resolve` does not know: NXDOMAIN from a server that
   * holds the whole zone (the control plane), REFUSED from one that holds part of it (an agent,
   * which answers only for what it serves), so a resolver asks its next server.
   */
  readonly unknownName?: "nxdomain" | "refused";
}

/** DNS response codes (RFC 1035 §4.1.1) that the responder uses. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The classic UDP payload limit; larger answers set TC and the client retries over TCP. */
export const UDP_LIMIT = 512;

const QUERY_OPCODE = 0;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export { normalizeName };

export function inDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}

function soa(domain: string, ttl: number): dnsPacket.SoaAnswer {
  return {
    type: "SOA",
    name: domain,
    ttl,
    class: "IN",
    data: {
      mname: `ns.${domain}`,
      rname: `hostmaster.${domain}`,
      // Answers are computed live from the store, there is no zone version to count.
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: ttl,
    },
  };
}

interface Reply {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answers?: dnsPacket.Answer[];
  readonly authorities?: dnsPacket.Answer[];
}

async function decide(zone: ZoneOptions, question: dnsPacket.Question): Promise<Reply> {
  const domain = normalizeName(zone.domain);
  const name = normalizeName(question.name);
  if (question.class !== "IN" && question.class !== "ANY")
    return { rcode: RCODE.REFUSED, authoritative: false };
  if (!inDomain(name, domain)) return { rcode: RCODE.REFUSED, authoritative: false };

  const negative = [soa(domain, zone.ttl)];
  if (name === domain) {
    if (question.type === "SOA") return { rcode: RCODE.NOERROR, authoritative: true, answers: negative };
    return { rcode: RCODE.NOERROR, authoritative: true, authorities: negative };
  }
  const addresses = await zone.resolve(name);
  if (addresses === undefined)
    return zone.unknownName === "refused"
      ? { rcode: RCODE.REFUSED, authoritative: false }
      : { rcode: RCODE.NXDOMAIN, authoritative: true, authorities: negative };
  // dns-packet decodes type 255 as "ANY", which its typings leave out.
  const qtype: string = question.type;
  if (qtype !== "A" && qtype !== "ANY") {
    return { rcode: RCODE.NOERROR, authoritative: true, authorities: negative };
  }
  const answers: dnsPacket.Answer[] = addresses
    .filter((a) => IPV4.test(a))
    .map((a) => ({ type: "A", name: question.name, ttl: zone.ttl, class: "IN", data: a }));
  if (answers.length === 0) return { rcode: RCODE.NOERROR, authoritative: true, authorities: negative };
  return { rcode: RCODE.NOERROR, authoritative: true, answers };
}

function encodeReply(query: dnsPacket.DecodedPacket, reply: Reply, truncated = false): Buffer {
  const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  const flags =
    rd |
    (reply.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    (reply.rcode & 0xf);
  return dnsPacket.encode({
    type: "response",
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: truncated ? [] : (reply.answers ?? []),
    authorities: truncated ? [] : (reply.authorities ?? []),
  });
}

export function decodeQuery(message: Buffer): dnsPacket.DecodedPacket | undefined {
  try {
    const packet = dnsPacket.decode(message);
    return packet.type === "query" ? packet : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Answers one message. Undefined means "drop it": not decodable, or a response rather than a
 * query (answering responses is how reflection loops start). `resolve` failures become SERVFAIL.
 */
export async function answerQuery(
  zone: ZoneOptions,
  message: Buffer,
  transport: "udp" | "tcp",
  onError: (e: unknown) => void = () => {},
): Promise<Buffer | undefined> {
  const query = decodeQuery(message);
  if (!query) return undefined;
  const opcode = ((query.flags ?? 0) >> 11) & 0xf;
  const question = query.questions?.[0];
  let reply: Reply;
  if (opcode !== QUERY_OPCODE) reply = { rcode: RCODE.NOTIMP, authoritative: false };
  else if (!question || (query.questions?.length ?? 0) !== 1)
    reply = { rcode: RCODE.FORMERR, authoritative: false };
  else {
    try {
      reply = await decide(zone, question);
    } catch (e) {
      onError(e);
      reply = { rcode: RCODE.SERVFAIL, authoritative: false };
    }
  }
  const full = encodeReply(query, reply);
  if (transport === "udp" && full.length > UDP_LIMIT) return encodeReply(query, reply, true);
  return full;
}
