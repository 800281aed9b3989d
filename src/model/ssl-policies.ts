/**
 * The SSL side of Classic ELB policies: every cipher ELB knows, the predefined security policies
 * DescribeLoadBalancerPolicies returns without a load balancer name, and the translation of an
 * SSLNegotiationPolicy into Node TLS options for the data plane.
 *
 * Sources: the cipher list and its order are the "SSL ciphers" list of the Classic Load Balancer
 * guide (elb-ssl-security-policy); the contents of ELBSecurityPolicy-2016-08, -TLS-1-1-2017-01,
 * -TLS-1-2-2017-01, -2015-05, -2015-03 and -2015-02 are the guide's predefined-policy table. The
 * older policies (2014-10, 2014-01, 2011-08 and the two ELBSample ones) are no longer tabulated by
 * AWS and are reconstructed from the announcements of their era; treat them as approximate.
 */
import { BallastError } from "./errors.js";
import type { PolicyAttribute } from "./types.js";

/**
 * ELB cipher name → the OpenSSL name Node 20 (OpenSSL 3) accepts, or null when Ballast cannot offer
 * it. Most names are the same; the exceptions are the `EDH-` names OpenSSL 1.1 renamed to `DHE-`
 * (all of them 3DES/DES, which Node's OpenSSL is built without). Null: RC4, DES, 3DES, SEED, IDEA,
 * RC2, MD5-MAC SSLv2 suites, Kerberos and export suites (not in Node's OpenSSL: "no cipher match"),
 * PSK suites (a listener has a certificate, never a pre-shared key) and anonymous ADH suites
 * (unauthenticated key exchange: Ballast will not offer a man-in-the-middle an open door).
 */
const CIPHERS: readonly (readonly [elb: string, openssl: string | null])[] = [
  ...same("ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256"),
  ...same("ECDHE-RSA-AES128-SHA256 ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA DHE-RSA-AES128-SHA"),
  ...same("ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES256-SHA384"),
  ...same("ECDHE-RSA-AES256-SHA384 ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES256-SHA AES128-GCM-SHA256"),
  ...same("AES128-SHA256 AES128-SHA AES256-GCM-SHA384 AES256-SHA256 AES256-SHA DHE-DSS-AES128-SHA"),
  ...same("CAMELLIA128-SHA"),
  ["EDH-RSA-DES-CBC3-SHA", null],
  ...none("DES-CBC3-SHA ECDHE-RSA-RC4-SHA RC4-SHA ECDHE-ECDSA-RC4-SHA"),
  ...same("DHE-DSS-AES256-GCM-SHA384 DHE-RSA-AES256-GCM-SHA384 DHE-RSA-AES256-SHA256 DHE-DSS-AES256-SHA256"),
  ...same("DHE-RSA-AES256-SHA DHE-DSS-AES256-SHA DHE-RSA-CAMELLIA256-SHA DHE-DSS-CAMELLIA256-SHA"),
  ...same("CAMELLIA256-SHA"),
  ["EDH-DSS-DES-CBC3-SHA", null],
  ...same("DHE-DSS-AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256 DHE-RSA-AES128-SHA256 DHE-DSS-AES128-SHA256"),
  ...same("DHE-RSA-CAMELLIA128-SHA DHE-DSS-CAMELLIA128-SHA"),
  ...none("ADH-AES128-GCM-SHA256 ADH-AES128-SHA ADH-AES128-SHA256 ADH-AES256-GCM-SHA384 ADH-AES256-SHA"),
  ...none("ADH-AES256-SHA256 ADH-CAMELLIA128-SHA ADH-CAMELLIA256-SHA ADH-DES-CBC3-SHA ADH-DES-CBC-SHA"),
  ...none("ADH-RC4-MD5 ADH-SEED-SHA DES-CBC-SHA DHE-DSS-SEED-SHA DHE-RSA-SEED-SHA EDH-DSS-DES-CBC-SHA"),
  ...none("EDH-RSA-DES-CBC-SHA IDEA-CBC-SHA RC4-MD5 SEED-SHA DES-CBC3-MD5 DES-CBC-MD5 RC2-CBC-MD5"),
  ...none("PSK-AES256-CBC-SHA PSK-3DES-EDE-CBC-SHA KRB5-DES-CBC3-SHA KRB5-DES-CBC3-MD5 PSK-AES128-CBC-SHA"),
  ...none("PSK-RC4-SHA KRB5-RC4-SHA KRB5-RC4-MD5 KRB5-DES-CBC-SHA KRB5-DES-CBC-MD5 EXP-EDH-RSA-DES-CBC-SHA"),
  ...none("EXP-EDH-DSS-DES-CBC-SHA EXP-ADH-DES-CBC-SHA EXP-DES-CBC-SHA EXP-RC2-CBC-MD5 EXP-KRB5-RC2-CBC-SHA"),
  ...none("EXP-KRB5-DES-CBC-SHA EXP-KRB5-RC2-CBC-MD5 EXP-KRB5-DES-CBC-MD5 EXP-ADH-RC4-MD5 EXP-RC4-MD5"),
  ...none("EXP-KRB5-RC4-SHA EXP-KRB5-RC4-MD5"),
];

function same(names: string): (readonly [string, string])[] {
  return names.split(" ").map((n) => [n, n] as const);
}

function none(names: string): (readonly [string, null])[] {
  return names.split(" ").map((n) => [n, null] as const);
}

/** Every cipher attribute of SSLNegotiationPolicyType, in ELB's order (its server preference order). */
export const ELB_CIPHER_NAMES: readonly string[] = CIPHERS.map(([elb]) => elb);

/** ELB cipher name → OpenSSL name for Node's TLS; null when Ballast cannot offer the cipher. */
export const OPENSSL_CIPHER_NAME: ReadonlyMap<string, string | null> = new Map(CIPHERS);

export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2";

/**
 * Protocol attributes, in the order ELB lists them. SSLv2 and SSLv3 are still attributes ELB
 * accepts and reports; Node 20's OpenSSL 3 cannot speak either, so they map to no TLS version.
 */
export const PROTOCOL_ATTRIBUTES: readonly (readonly [name: string, version: TlsVersion | null])[] = [
  ["Protocol-SSLv2", null],
  ["Protocol-TLSv1", "TLSv1"],
  ["Protocol-SSLv3", null],
  ["Protocol-TLSv1.1", "TLSv1.1"],
  ["Protocol-TLSv1.2", "TLSv1.2"],
];

export const SERVER_DEFINED_CIPHER_ORDER = "Server-Defined-Cipher-Order";
export const REFERENCE_SECURITY_POLICY = "Reference-Security-Policy";

export interface PredefinedPolicy {
  readonly policyName: string;
  readonly policyTypeName: "SSLNegotiationPolicyType";
  readonly attributes: readonly PolicyAttribute[];
}

interface PolicySpec {
  readonly protocols: readonly string[];
  readonly serverOrder: boolean;
  readonly ciphers: readonly string[];
}

// The six policies of the guide's table (confirmed).
const MODERN_TLS12 = words(
  "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA256 ECDHE-RSA-AES128-SHA256 " +
    "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 " +
    "AES128-GCM-SHA256 AES128-SHA256 AES256-GCM-SHA384 AES256-SHA256",
);
const MODERN_SHA1 = words(
  "ECDHE-ECDSA-AES128-SHA ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA ECDHE-ECDSA-AES256-SHA AES128-SHA AES256-SHA",
);
const DEFAULT_2016 = [...MODERN_TLS12, ...MODERN_SHA1];
const DHE_2015 = words("DHE-RSA-AES128-SHA DHE-DSS-AES128-SHA");
const TLS_ALL = words("Protocol-TLSv1 Protocol-TLSv1.1 Protocol-TLSv1.2");

const SPECS: readonly (readonly [string, PolicySpec])[] = [
  ["ELBSecurityPolicy-2016-08", { protocols: TLS_ALL, serverOrder: true, ciphers: DEFAULT_2016 }],
  [
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    { protocols: ["Protocol-TLSv1.2"], serverOrder: true, ciphers: MODERN_TLS12 },
  ],
  [
    "ELBSecurityPolicy-TLS-1-1-2017-01",
    { protocols: ["Protocol-TLSv1.1", "Protocol-TLSv1.2"], serverOrder: true, ciphers: DEFAULT_2016 },
  ],
  [
    "ELBSecurityPolicy-2015-05",
    { protocols: TLS_ALL, serverOrder: true, ciphers: [...DEFAULT_2016, "DES-CBC3-SHA"] },
  ],
  [
    "ELBSecurityPolicy-2015-03",
    { protocols: TLS_ALL, serverOrder: true, ciphers: [...DEFAULT_2016, ...DHE_2015, "DES-CBC3-SHA"] },
  ],
  [
    "ELBSecurityPolicy-2015-02",
    { protocols: TLS_ALL, serverOrder: true, ciphers: [...DEFAULT_2016, ...DHE_2015] },
  ],
  // Reconstructed from memory (see the module note): RC4 was dropped in 2015-02, SSLv3 in 2014-10.
  [
    "ELBSecurityPolicy-2014-10",
    {
      protocols: TLS_ALL,
      serverOrder: true,
      ciphers: [...DEFAULT_2016, ...DHE_2015, "DES-CBC3-SHA", "ECDHE-RSA-RC4-SHA", "RC4-SHA"],
    },
  ],
  [
    "ELBSecurityPolicy-2014-01",
    {
      protocols: ["Protocol-SSLv3", ...TLS_ALL],
      serverOrder: true,
      ciphers: [...DEFAULT_2016, ...DHE_2015, "DES-CBC3-SHA", "ECDHE-RSA-RC4-SHA", "RC4-SHA"],
    },
  ],
  [
    "ELBSecurityPolicy-2011-08",
    {
      protocols: ["Protocol-SSLv3", "Protocol-TLSv1"],
      serverOrder: false,
      ciphers: words(
        "DHE-RSA-AES256-SHA DHE-DSS-AES256-SHA DHE-RSA-CAMELLIA256-SHA DHE-DSS-CAMELLIA256-SHA AES256-SHA " +
          "CAMELLIA256-SHA EDH-RSA-DES-CBC3-SHA EDH-DSS-DES-CBC3-SHA DES-CBC3-SHA DHE-RSA-AES128-SHA " +
          "DHE-DSS-AES128-SHA DHE-RSA-CAMELLIA128-SHA DHE-DSS-CAMELLIA128-SHA AES128-SHA CAMELLIA128-SHA RC4-SHA",
      ),
    },
  ],
  [
    "ELBSample-ELBDefaultCipherPolicy",
    {
      protocols: ["Protocol-SSLv3", "Protocol-TLSv1"],
      serverOrder: false,
      ciphers: words("AES128-SHA AES256-SHA DES-CBC3-SHA RC4-SHA RC4-MD5"),
    },
  ],
  [
    "ELBSample-OpenSSLDefaultCipherPolicy",
    {
      protocols: ["Protocol-SSLv2", "Protocol-SSLv3", "Protocol-TLSv1"],
      serverOrder: false,
      ciphers: words(
        "DHE-RSA-AES256-SHA DHE-DSS-AES256-SHA AES256-SHA EDH-RSA-DES-CBC3-SHA EDH-DSS-DES-CBC3-SHA DES-CBC3-SHA " +
          "DES-CBC3-MD5 DHE-RSA-AES128-SHA DHE-DSS-AES128-SHA AES128-SHA RC4-SHA RC4-MD5 EDH-RSA-DES-CBC-SHA " +
          "EDH-DSS-DES-CBC-SHA DES-CBC-SHA DES-CBC-MD5 EXP-EDH-RSA-DES-CBC-SHA EXP-EDH-DSS-DES-CBC-SHA " +
          "EXP-DES-CBC-SHA EXP-RC2-CBC-MD5 EXP-RC4-MD5",
      ),
    },
  ],
];

function words(s: string): string[] {
  return s.split(" ");
}

/** ELB answers to both names of each sample policy; DescribeLoadBalancerPolicies lists the first. */
const ALIASES: ReadonlyMap<string, string> = new Map([
  ["ELBSample-ELBDefaultNegotiationPolicy", "ELBSample-ELBDefaultCipherPolicy"],
  ["ELBSample-OpenSSLDefaultNegotiationPolicy", "ELBSample-OpenSSLDefaultCipherPolicy"],
]);

/** Like ELB, a predefined policy names every protocol, the order option and every cipher, true or false. */
function expand(name: string, spec: PolicySpec): PredefinedPolicy {
  const on = new Set([...spec.protocols, ...spec.ciphers]);
  const flag = (n: string): PolicyAttribute => ({ name: n, value: String(on.has(n)) });
  return {
    policyName: name,
    policyTypeName: "SSLNegotiationPolicyType",
    attributes: [
      ...PROTOCOL_ATTRIBUTES.map(([n]) => flag(n)),
      { name: SERVER_DEFINED_CIPHER_ORDER, value: String(spec.serverOrder) },
      ...ELB_CIPHER_NAMES.map(flag),
    ],
  };
}

export const PREDEFINED_POLICIES: readonly PredefinedPolicy[] = SPECS.map(([n, s]) => expand(n, s));

export const DEFAULT_SECURITY_POLICY = "ELBSecurityPolicy-2016-08";

/** A predefined policy by name or by its alias, as Reference-Security-Policy may name it. */
export function predefinedPolicy(name: string): PredefinedPolicy | undefined {
  const canonical = ALIASES.get(name) ?? name;
  return PREDEFINED_POLICIES.find((p) => p.policyName === canonical);
}

export interface TlsOptions {
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL cipher list for TLS 1.2 and below (Classic ELB never negotiates TLS 1.3). */
  readonly ciphers: string;
  readonly honorCipherOrder: boolean;
  /** Enabled attributes Ballast cannot honour, and range effects, for the data plane to log. */
  readonly caveats: readonly string[];
}

const VERSION_ORDER: readonly TlsVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2"];

/**
 * Node TLS options for an SSLNegotiationPolicy's attributes (already expanded from any
 * Reference-Security-Policy). Decisions, each reported in `caveats`:
 * - Protocol-SSLv2/SSLv3 = true is ignored: Node 20's OpenSSL 3 has neither protocol.
 * - Node takes a version range, so TLSv1 + TLSv1.2 without TLSv1.1 also admits TLSv1.1.
 * - Ciphers Node's OpenSSL lacks (or Ballast refuses, see CIPHERS) are left out.
 * - TLS 1.0/1.1 need `@SECLEVEL=0` under OpenSSL 3 (security level 1 forbids their SHA-1/MD5
 *   handshake signatures), so it is appended when the range reaches below TLS 1.2.
 * Throws InvalidConfigurationRequest when no usable protocol or cipher is left.
 */
export function tlsOptionsFor(attributes: readonly PolicyAttribute[]): TlsOptions {
  const enabled = new Set(attributes.filter((a) => a.value.toLowerCase() === "true").map((a) => a.name));
  const caveats: string[] = [];
  const versions: TlsVersion[] = [];
  for (const [name, version] of PROTOCOL_ATTRIBUTES) {
    if (!enabled.has(name)) continue;
    if (version === null) caveats.push(`${name} ignored: not supported by Node's OpenSSL`);
    else versions.push(version);
  }
  const ciphers: string[] = [];
  for (const elb of ELB_CIPHER_NAMES) {
    if (!enabled.has(elb)) continue;
    const openssl = OPENSSL_CIPHER_NAME.get(elb) ?? null;
    if (openssl === null) caveats.push(`${elb} ignored: not offered by Ballast`);
    else ciphers.push(openssl);
  }
  const minVersion = VERSION_ORDER.find((v) => versions.includes(v));
  const maxVersion = [...VERSION_ORDER].reverse().find((v) => versions.includes(v));
  if (minVersion === undefined || maxVersion === undefined)
    throw new BallastError(
      "InvalidConfigurationRequest",
      "The SSL negotiation policy enables no protocol Ballast supports (TLSv1, TLSv1.1, TLSv1.2)",
    );
  if (ciphers.length === 0)
    throw new BallastError(
      "InvalidConfigurationRequest",
      "The SSL negotiation policy enables no cipher Ballast supports",
    );
  const lo = VERSION_ORDER.indexOf(minVersion);
  const hi = VERSION_ORDER.indexOf(maxVersion);
  for (const v of VERSION_ORDER.slice(lo, hi + 1))
    if (!versions.includes(v)) caveats.push(`${v} admitted: Node takes a version range`);
  if (lo < VERSION_ORDER.indexOf("TLSv1.2")) ciphers.push("@SECLEVEL=0");
  return {
    minVersion,
    maxVersion,
    ciphers: ciphers.join(":"),
    honorCipherOrder: enabled.has(SERVER_DEFINED_CIPHER_ORDER),
    caveats,
  };
}
