/** A parsed `HealthCheck.target`: `HTTP:80/path`, `HTTPS:443/path`, `TCP:80` or `SSL:443`. */
export interface HealthTarget {
  readonly protocol: "HTTP" | "HTTPS" | "TCP" | "SSL";
  readonly port: number;
  /** Request path for HTTP(S); empty for TCP/SSL. */
  readonly path: string;
}

const TARGET = /^(HTTP|HTTPS|TCP|SSL):(\d{1,5})(\/.*)?$/;

/** Parses a health-check target; undefined when it is malformed (validation lives in the API). */
export function parseHealthTarget(target: string): HealthTarget | undefined {
  const m = TARGET.exec(target);
  if (m === null) return undefined;
  const protocol = m[1] as HealthTarget["protocol"];
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const path = m[3] ?? "";
  const isHttp = protocol === "HTTP" || protocol === "HTTPS";
  if (isHttp && path === "") return undefined;
  if (!isHttp && path !== "") return undefined;
  return { protocol, port, path };
}
