/**
 * The XML of AWS Query responses. A result is plain data: object keys become elements in order,
 * arrays become `<member>` lists, undefined members are left out, Dates are ISO 8601.
 */
export type XmlValue =
  | RawXml
  | string
  | number
  | boolean
  | Date
  | undefined
  | readonly XmlValue[]
  | { readonly [element: string]: XmlValue };

/** Content already rendered by `toXml` (a cached part of an answer): written as it is. */
export class RawXml {
  readonly xml: string;

  constructor(xml: string) {
    this.xml = xml;
  }
}

export const ELB_NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\r": "&#13;",
};

/** Characters XML 1.0 can carry; the rest are dropped rather than producing a document no client parses. */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code !== 0xfffe && code !== 0xffff);
}

export function escapeXml(text: string): string {
  let out = "";
  for (const ch of text) {
    if (!isXmlChar(ch.codePointAt(0) ?? 0)) continue;
    out += ESCAPES[ch] ?? ch;
  }
  return out;
}

function isList(value: XmlValue): value is readonly XmlValue[] {
  return Array.isArray(value);
}

export function toXml(value: XmlValue): string {
  if (value === undefined) return "";
  if (typeof value === "string") return escapeXml(value);
  if (value instanceof RawXml) return value.xml;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (isList(value)) return value.map((v) => element("member", v)).join("");
  let out = "";
  for (const [name, v] of Object.entries(value)) out += element(name, v);
  return out;
}

export function element(name: string, value: XmlValue): string {
  if (value === undefined) return "";
  const inner = toXml(value);
  return inner === "" ? `<${name}/>` : `<${name}>${inner}</${name}>`;
}

export function resultDocument(action: string, result: XmlValue, requestId: string): string {
  return (
    `<${action}Response xmlns="${ELB_NAMESPACE}">` +
    element(`${action}Result`, result ?? {}) +
    element("ResponseMetadata", { RequestId: requestId }) +
    `</${action}Response>\n`
  );
}

export function errorDocument(
  type: "Sender" | "Receiver",
  code: string,
  message: string,
  requestId: string,
): string {
  return (
    `<ErrorResponse xmlns="${ELB_NAMESPACE}">` +
    element("Error", { Type: type, Code: code, Message: message }) +
    element("RequestId", requestId) +
    `</ErrorResponse>\n`
  );
}
