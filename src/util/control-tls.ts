/**
 * The agent channel's TLS material. Without certificates from the operator, the control plane
 * makes its own CA on first start (`<data-dir>/ca/ca.key`, 0600, and `ca.crt`, the file agents are
 * given with `--ca`) and a server certificate signed by it for the addresses it listens on; the
 * server certificate is made again whenever those addresses change. Node's crypto parses
 * certificates but cannot make them, so the openssl command (on every Linux host) makes them.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  /** The CA agents verify the control plane with (its PEM), or undefined for the operator's own. */
  readonly caFile?: string;
  /** The names and addresses the certificate is valid for. */
  readonly names: readonly string[];
}

/** The operator's certificate and key (`--tls-cert`, `--tls-key`). */
export async function operatorTls(certFile: string, keyFile: string): Promise<ServerTls> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key, names: [] };
}

/** The control plane's own CA and a server certificate for `host` (all local addresses for 0.0.0.0). */
export async function ownTls(dataDir: string, host: string): Promise<ServerTls> {
  const dir = join(dataDir, "ca");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, "ca.key");
  const caCert = join(dir, "ca.crt");
  if (!(await exists(caKey)) || !(await exists(caCert))) {
    await openssl([
      "req",
      "-x509",
      ...EC_KEY,
      "-nodes",
      "-keyout",
      caKey,
      "-out",
      caCert,
      "-days",
      "3650",
      "-subj",
      "/CN=Ballast control plane CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await chmod(caKey, 0o600);
  }
  const names = serverNames(host);
  const wanted = names.join(",");
  const serverKey = join(dir, "server.key");
  const serverCert = join(dir, "server.crt");
  const namesFile = join(dir, "server.names");
  const had = await readFile(namesFile, "utf8").catch(() => "");
  if (had.trim() !== wanted || !(await exists(serverKey)) || !(await exists(serverCert))) {
    const csr = join(dir, "server.csr");
    const ext = join(dir, "server.ext");
    await openssl([
      "req",
      "-new",
      ...EC_KEY,
      "-nodes",
      "-keyout",
      serverKey,
      "-out",
      csr,
      "-subj",
      "/CN=ballast-control",
    ]);
    await chmod(serverKey, 0o600);
    const san = names.map((n) => (/^[\d.]+$/.test(n) || n.includes(":") ? `IP:${n}` : `DNS:${n}`)).join(",");
    await writeFile(
      ext,
      `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caCert,
      "-CAkey",
      caKey,
      "-set_serial",
      `0x${Date.now().toString(16)}`,
      "-days",
      "825",
      "-extfile",
      ext,
      "-out",
      serverCert,
    ]);
    await Promise.all([rm(csr, { force: true }), rm(ext, { force: true })]);
    await writeFile(namesFile, `${wanted}\n`);
  }
  const [cert, key] = await Promise.all([readFile(serverCert, "utf8"), readFile(serverKey, "utf8")]);
  return { cert, key, caFile: caCert, names };
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

function serverNames(host: string): string[] {
  const names = new Set<string>(["localhost", "127.0.0.1", hostname()]);
  if (host === "0.0.0.0" || host === "::") {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) if (a.family === "IPv4") names.add(a.address);
  } else names.add(host);
  return [...names].sort();
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run("openssl", args, { timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim().split("\n")[0]}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
