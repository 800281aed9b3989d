/** `ballast certs upload|list|delete`: the certificate store, through the signed admin API. */
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { requireArg, requireFlag } from "./args.js";
import { signedClient, withHint } from "./client.js";
import { parseCommand } from "./command.js";
import { CliError } from "./errors.js";
import { printResult, table } from "./output.js";
import { CERTS } from "./specs/inventory.js";

/** A stored certificate as the API shows it: never the private key. */
interface PublicCertificate {
  readonly arn: string;
  readonly name: string;
  readonly certificateBody: string;
  readonly certificateChain?: string;
  readonly uploadedTime: string;
  readonly notAfter: string;
  readonly subject: string;
}

export async function certsCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(CERTS, argv);
  const [name] = positionals;
  const path = (): string =>
    `/admin/v1/certificates/${encodeURIComponent(requireArg(name, "a certificate name"))}`;
  if (verb === "upload") {
    const target = path();
    const body = {
      certificateBody: await pem(requireFlag(values.cert, "cert"), "--cert"),
      privateKey: await pem(requireFlag(values.key, "key"), "--key"),
      ...(values.chain === undefined ? {} : { certificateChain: await pem(values.chain, "--chain") }),
      ...(values.arn === undefined ? {} : { arn: values.arn }),
    };
    const client = await signedClient(values);
    const r = await client.json<{ certificate: PublicCertificate }>("PUT", target, body);
    return printResult(values.json, r, () => {
      const c = r.certificate;
      return `certificate ${c.name}: ${c.arn}\n  subject ${c.subject}, expires ${c.notAfter}\n  HTTPS/SSL listeners name it by this ARN (SSLCertificateId)`;
    });
  }
  const client = await signedClient(values);
  if (verb === "delete") {
    const r = await client.json<{ deleted: string }>("DELETE", path()).catch((e: unknown) => {
      throw withHint(e, "NotFound", "'ballast certs list' shows the stored certificates");
    });
    return printResult(values.json, r, () => `deleted certificate ${name} (${r.deleted})`);
  }
  const r = await client.json<{ certificates: PublicCertificate[] }>("GET", "/admin/v1/certificates");
  printResult(values.json, r, () =>
    r.certificates.length === 0
      ? "no certificates; store one with 'ballast certs upload NAME --cert FILE --key FILE'"
      : table(
          ["NAME", "SUBJECT", "EXPIRES", "SHA-256", "ARN"],
          r.certificates.map((c) => [c.name, c.subject, c.notAfter, fingerprint(c.certificateBody), c.arn]),
        ),
  );
}

/** A PEM file's text; a missing or unreadable file is one clear line naming the flag. */
async function pem(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      "FileNotFound",
      `${flag} ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (code ?? String(e))}`,
      `${flag} takes a PEM file`,
    );
  }
}

/** The first 8 bytes of the certificate's SHA-256 fingerprint, as openssl prints it (AA:BB:…). */
function fingerprint(body: string): string {
  try {
    return `${new X509Certificate(body).fingerprint256.slice(0, 23)}…`;
  } catch {
    return "-";
  }
}
