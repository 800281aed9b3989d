/**
 * The signed-in operator: an access key id, its secret and a region, kept in this tab's
 * sessionStorage only (gone when the tab closes; never sent anywhere: every request is signed here).
 */
export interface Session {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

const KEY = "ballast.console.session";

export const REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "eu-central-1",
  "ap-southeast-1",
  "ap-northeast-1",
] as const;

export function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return undefined;
  try {
    const s = JSON.parse(raw) as Partial<Session>;
    if (
      typeof s.accessKeyId === "string" &&
      typeof s.secretAccessKey === "string" &&
      typeof s.region === "string"
    )
      return { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, region: s.region };
  } catch {
    // a damaged entry: sign in again
  }
  sessionStorage.removeItem(KEY);
  return undefined;
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
