/** Small shared pieces: links, the error line, times. */
import type { ComponentChildren } from "preact";
import { BASE, onLink } from "./router";

export function Link(props: {
  readonly to: string;
  readonly children: ComponentChildren;
  readonly current?: boolean;
}) {
  return (
    <a href={`${BASE}${props.to}`} onClick={onLink} aria-current={props.current ? "page" : undefined}>
      {props.children}
    </a>
  );
}

/** An API error as one readable line (AWS code: message). */
export function ErrorLine(props: { readonly error: string | undefined }) {
  if (props.error === undefined) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

export function Loading(props: { readonly what: string }) {
  return <p class="muted">Loading {props.what}…</p>;
}

export function time(iso: string | undefined): string {
  if (iso === undefined) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}

/** Splits "a, b c" into ["a","b","c"]. */
export function words(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((w) => w.trim())
    .filter((w) => w !== "");
}
