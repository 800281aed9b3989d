/** The real control plane in-process: SQLite in a temp dir, real SigV4, real handler, no agents. */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningControlPlane, startControlPlane } from "../../../src/cli/control-plane.js";
import { validateCertificateUpload } from "../../../src/model/certificates.js";
import type { Subnet } from "../../../src/model/types.js";
import { silentLogger } from "../../../src/util/logger.js";
import { selfSignedCert } from "../../support/certs.js";

export const ACCESS_KEY_ID = "AKIACONFORMANCE00001";
export const SECRET_ACCESS_KEY = "conformance-secret-0123456789abcdefghijkl";
export const REGION = "us-east-1";
export const ZONES = ["us-east-1a", "us-east-1b"] as const;

export interface ConformanceServer {
  readonly cp: RunningControlPlane;
  readonly url: string;
  close(): Promise<void>;
}

export async function startConformanceServer(): Promise<ConformanceServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "ballast-conformance-"));
  const cp = await startControlPlane({
    dataDir,
    store: "sqlite",
    host: "127.0.0.1",
    apiPort: 0,
    agentPort: 0,
    dnsPort: 0,
    dnsDomain: "ballast.test",
    zones: ZONES,
    env: {
      BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
      BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    },
    logger: silentLogger,
    // The runner deletes every load balancer after each case, many a minute: a harness, not a
    // bulk change (the rule itself is tested in test/api/bulk-tickets.test.ts).
    bulkThreshold: 1_000_000,
  });
  await seedSubnets(cp);
  await seedCertificates(cp);
  return {
    cp,
    url: cp.apiUrl,
    async close() {
      await cp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The subnet registry the rows of cases/attributes-tags-zones.ts use (Ballast has no EC2 to ask). */
export const SEEDED_SUBNETS: readonly Subnet[] = [
  { subnetId: "subnet-0000000a", zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" },
  { subnetId: "subnet-0000000b", zone: "us-east-1b", vpcId: "vpc-0a1b2c3d" },
  { subnetId: "subnet-000000a2", zone: "us-east-1a", vpcId: "vpc-0a1b2c3d" },
];

async function seedSubnets(cp: RunningControlPlane): Promise<void> {
  const meta = { principal: "conformance", sourceIp: "127.0.0.1", requestId: "seed", action: "PutSubnet" };
  await cp.store.mutate(meta, async (tx) => {
    for (const s of SEEDED_SUBNETS) tx.put("subnet", s.subnetId, s);
  });
}

/** Two server certificates in the store, for the HTTPS/SSL rows (self-signed, made with openssl). */
export const SEEDED_CERTIFICATES = ["conformance-a", "conformance-b"] as const;
export const SEEDED_CERTIFICATE_ARNS = SEEDED_CERTIFICATES.map(
  (name) => `arn:aws:iam::000000000000:server-certificate/${name}`,
);

async function seedCertificates(cp: RunningControlPlane): Promise<void> {
  const certs = SEEDED_CERTIFICATES.map((name) => {
    const pem = selfSignedCert(`${name}.ballast.test`, { days: 2 });
    return validateCertificateUpload(
      { name, certificateBody: pem.cert, privateKey: pem.key },
      new Date().toISOString(),
    );
  });
  const meta = {
    principal: "conformance",
    sourceIp: "127.0.0.1",
    requestId: "seed",
    action: "PutCertificate",
  };
  await cp.store.mutate(meta, async (tx) => {
    for (const c of certs) tx.put("certificate", c.arn, c);
  });
}
