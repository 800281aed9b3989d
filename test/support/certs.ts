/** Self-signed certificates for tests, made with the openssl CLI. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its unencrypted private key, both PEM. */
export interface CertPem {
  readonly cert: string;
  readonly key: string;
}

const KEY_ARGS = {
  rsa: ["-newkey", "rsa:2048"],
  ec: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
} as const;

/**
 * A self-signed certificate for `/CN=<cn>`, valid from now for `days` (default 30), with an RSA 2048
 * (default) or EC P-256 key. openssl writes into a temp dir that is removed before this returns;
 * a test that needs the PEMs as files writes them itself.
 */
export function selfSignedCert(cn: string, opts: { days?: number; keyType?: "rsa" | "ec" } = {}): CertPem {
  const dir = mkdtempSync(join(tmpdir(), "ballast-cert-"));
  try {
    const keyFile = join(dir, "key.pem");
    const certFile = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        ...KEY_ARGS[opts.keyType ?? "rsa"],
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        String(opts.days ?? 30),
        "-subj",
        `/CN=${cn}`,
      ],
      { stdio: "ignore" },
    );
    return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
