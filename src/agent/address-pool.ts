/**
 * Hands each load-balancer node an address from the agent's IPv4 pool (a CIDR such as
 * 127.0.1.0/24), keeping the addresses it handed out before so a node never moves.
 */
export class AddressPool {
  readonly #first: number;
  readonly #last: number;
  readonly #byLb = new Map<string, string>();
  readonly #used = new Set<string>();

  /** `reserved`: addresses of the pool never handed to a node (the agent's own DNS address). */
  constructor(
    cidr: string,
    assigned: Readonly<Record<string, string>> = {},
    reserved: readonly string[] = [],
  ) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m) throw new Error(`address pool ${cidr} is not an IPv4 CIDR`);
    const octets = m.slice(1, 5).map(Number);
    const bits = Number(m[5]);
    if (octets.some((o) => o > 255) || bits < 8 || bits > 30)
      throw new Error(`address pool ${cidr} is invalid`);
    const base = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - bits);
    const network = base - (base % size);
    this.#first = network + 1;
    this.#last = network + size - 2;
    for (const addr of reserved) this.#used.add(addr);
    for (const [lb, addr] of Object.entries(assigned)) {
      this.#byLb.set(lb, addr);
      this.#used.add(addr);
    }
  }

  addressOf(lb: string): string {
    const have = this.#byLb.get(lb);
    if (have) return have;
    for (let n = this.#first; n <= this.#last; n++) {
      const addr = toDotted(n);
      if (this.#used.has(addr)) continue;
      this.#byLb.set(lb, addr);
      this.#used.add(addr);
      return addr;
    }
    throw new Error("address pool exhausted");
  }

  release(lb: string): void {
    const addr = this.#byLb.get(lb);
    if (!addr) return;
    this.#byLb.delete(lb);
    this.#used.delete(addr);
  }

  assigned(): Record<string, string> {
    return Object.fromEntries(this.#byLb);
  }
}

/** The pool's last host address (127.0.1.254 for 127.0.1.0/24): where `ballast up` puts an agent's DNS. */
export function lastAddress(cidr: string): string {
  const m = /\/(\d{1,2})$/.exec(cidr);
  const bits = Number(m?.[1] ?? 32);
  const base = cidr
    .replace(/\/\d+$/, "")
    .split(".")
    .reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - bits);
  return toDotted(base - (base % size) + size - 2);
}

function toDotted(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
