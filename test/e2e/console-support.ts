/**
 * Driving the web console in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): browser contexts at laptop and phone sizes, signing in, screenshots under
 * test-results/console/, and a record of every request and error the page made, so a test can
 * assert that nothing left the origin and no Content-Security-Policy violation happened.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { SignedClient } from "../../src/cli/signed-client.js";

export const SCREENSHOTS = resolve(import.meta.dirname, "../../../test-results/console");
export const LAPTOP = { width: 1366, height: 900 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export interface Key {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** What a page did that a test checks afterwards: requests off the origin, errors, CSP reports. */
export interface PageRecord {
  readonly offOrigin: string[];
  readonly problems: string[];
}

export async function newPage(
  browser: Browser,
  origin: string,
  viewport: { width: number; height: number } = LAPTOP,
): Promise<{ context: BrowserContext; page: Page; record: PageRecord }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const record: PageRecord = { offOrigin: [], problems: [] };
  page.on("request", (r) => {
    if (!r.url().startsWith(`${origin}/`)) record.offOrigin.push(r.url());
  });
  page.on("pageerror", (e) => record.problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) record.problems.push(`console: ${m.text()}`);
  });
  return { context, page, record };
}

export async function signIn(page: Page, origin: string, key: Key, region = "us-east-1"): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByLabel("Access key ID").fill(key.accessKeyId);
  await page.getByLabel("Secret access key").fill(key.secretAccessKey);
  await page.getByLabel("Region").selectOption(region);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Sections" }).waitFor({ timeout: 15_000 });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A principal with the given managed policies and a fresh access key, through the admin API. */
export async function createPrincipal(client: SignedClient, name: string, policies: string[]): Promise<Key> {
  const put = await client.send(
    "PUT",
    `/admin/v1/principals/${name}`,
    JSON.stringify({ policies }),
    "application/json",
  );
  if (put.status !== 200) throw new Error(`creating ${name}: ${put.status} ${put.body}`);
  const key = await client.send("POST", `/admin/v1/principals/${name}/keys`, "", "application/json");
  if (key.status !== 200) throw new Error(`a key for ${name}: ${key.status} ${key.body}`);
  return (JSON.parse(key.body) as { accessKey: Key }).accessKey;
}

/**
 * The form controls on the page that have no accessible name (no label, no aria-label, and for
 * a button no text): every control must be labelled.
 */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const out = [];
    for (const el of document.querySelectorAll("input, select, textarea, button")) {
      const named = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label") ||
        el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim() !== "");
      if (!named) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  })()`);
}
