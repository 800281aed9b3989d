/** The signed client the API commands share: endpoint, region and key from their flags. */
import { join } from "node:path";
import { changeAuthority } from "./change-flags.js";
import { ApiError } from "./errors.js";
import { type ClientCredentials, readCredentialsFile, SignedClient } from "./signed-client.js";

/**
 * A client for the endpoint, region and credentials the flags name, sending the change ticket or
 * break-glass reason they give (the two-person rule's headers) with every request.
 */
export async function signedClient(
  values: {
    readonly endpoint: string;
    readonly region: string;
    readonly "data-dir": string;
  } & Parameters<typeof changeAuthority>[0],
): Promise<SignedClient> {
  return new SignedClient(
    values.endpoint,
    await credentials(values["data-dir"]),
    values.region,
    changeAuthority(values),
  );
}

/** The caller's key: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the data dir's bootstrap file. */
export async function credentials(dataDir: string): Promise<ClientCredentials> {
  const id = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
  return readCredentialsFile(join(dataDir, "bootstrap-credentials"));
}

/** The same API error with a hint, when its code is `code`. */
export function withHint(e: unknown, code: string, hint: string): unknown {
  return e instanceof ApiError && e.code === code ? new ApiError(e.code, e.message, e.status, hint) : e;
}
