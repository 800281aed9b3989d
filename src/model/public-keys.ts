/**
 * PublicKeyPolicyType's PublicKey attribute. AWS documents it as base64 of a DER
 * SubjectPublicKeyInfo; Ballast also accepts PEM armour, an RSA PKCS#1 key or a certificate, and
 * normalises every form to base64 DER SPKI, which is what the data plane compares.
 */
import { createPublicKey, X509Certificate } from "node:crypto";

/** The key as DER SubjectPublicKeyInfo, or null when the value is not a key. */
export function parsePublicKey(value: string): Buffer | null {
  const b64 = value.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, "");
  if (b64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  const der = Buffer.from(b64, "base64");
  for (const type of ["spki", "pkcs1"] as const) {
    try {
      return createPublicKey({ key: der, format: "der", type }).export({ type: "spki", format: "der" });
    } catch {
      // next form
    }
  }
  try {
    return new X509Certificate(der).publicKey.export({ type: "spki", format: "der" });
  } catch {
    return null;
  }
}
