/**
 * The web console end to end, in real headless Chromium against the real `ballast up` (control
 * plane and two agents) and a real HTTP back end on loopback: sign in (and a wrong secret's error
 * line), create a load balancer and register the back end through the pages, see it InService,
 * stop it and see OutOfService with its reason; the agents and state pages; a restore through the
 * change-ticket flow with a second principal approving in a second browser context; and the guard
 * hold that restore causes, seen and released with a ticket. A screenshot of each main page lands
 * in test-results/console/ (laptop width, and one at phone width).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import type { Browser, Locator, Page } from "playwright-core";
import { SignedClient } from "../../src/cli/signed-client.js";
import {
  createPrincipal,
  type Key,
  launchChromium,
  newPage,
  type PageRecord,
  PHONE,
  screenshot,
  signIn,
  unlabelledControls,
} from "./console-support.js";
import {
  ACCESS_KEY_ID,
  Backend,
  type RunningUp,
  SECRET_ACCESS_KEY,
  sdkClient,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const POOL_OCTET = 161; // agents' pools 127.0.161.0/24 and 127.0.162.0/24
const BACKEND_ADDRESS = "127.0.163.1";
const BACKEND_PORT = 20_000 + Math.floor(Math.random() * 20_000);
const LB_PORT = 18_700 + Math.floor(Math.random() * 200);
const LB = "console-web";
const ADMIN: Key = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };
const WAIT = { timeout: 60_000 };

describe("web console in Chromium against ballast up", () => {
  let up: RunningUp;
  let elb: ElasticLoadBalancingClient;
  let client: SignedClient;
  let browser: Browser;
  let page: Page;
  let record: PageRecord;
  let bob: Key;
  const backend = new Backend("console-1", BACKEND_ADDRESS, BACKEND_PORT);
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    await backend.start();
    up = await startUp({ dataDir: tempDir("e2e-console"), poolOctet: POOL_OCTET });
    elb = sdkClient(up.apiUrl);
    client = new SignedClient(up.apiUrl, ADMIN);
    browser = await launchChromium();
    ({ page, record } = await newPage(browser, up.apiUrl));
  });
  after(async () => {
    for (const c of closers) await c().catch(() => undefined);
    await browser?.close();
    await up?.stop();
    await backend.stop();
  });

  it("signs in with an access key (a wrong secret gets the API's error line), and signs out", async () => {
    await page.goto(`${up.apiUrl}/console/`);
    await screenshot(page, "sign-in");
    assert.deepEqual(await unlabelledControls(page), [], "sign-in");
    await page.getByLabel("Access key ID").fill(ADMIN.accessKeyId);
    await page.getByLabel("Secret access key").fill("not-the-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = page.getByRole("alert");
    await error.waitFor(WAIT);
    assert.match(await text(error), /^SignatureDoesNotMatch: The request signature we calculated/);
    await signIn(page, up.apiUrl, ADMIN);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor(WAIT);
    await signIn(page, up.apiUrl, ADMIN);
  });

  it("creates a load balancer through the ELB API from the page", async () => {
    await section(page, "Load balancers");
    const form = page.getByRole("form", { name: "Create a load balancer" });
    await form.getByLabel("Name").fill(LB);
    await form.getByLabel("Availability zones (comma separated)").fill("us-east-1a");
    await form.getByLabel("Load balancer port 1").fill(String(LB_PORT));
    await form.getByLabel("Instance port 1").fill(String(BACKEND_PORT));
    await form.getByRole("button", { name: "Create load balancer" }).click();
    await form.getByRole("status").waitFor(WAIT);
    assert.match(await text(form.getByRole("status")), new RegExp(`Created: ${LB}-\\d+\\.`));
    const d = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [LB] }));
    const lb = d.LoadBalancerDescriptions?.[0];
    assert.deepEqual(lb?.AvailabilityZones, ["us-east-1a"]);
    assert.equal(lb?.ListenerDescriptions?.[0]?.Listener?.LoadBalancerPort, LB_PORT);
    // A port ELB refuses: the ELB API's own error code and message, as one line.
    await form.getByLabel("Load balancer port 1").fill("70000");
    await form.getByRole("button", { name: "Create load balancer" }).click();
    const err = form.getByRole("alert");
    await err.waitFor(WAIT);
    assert.match(await text(err), /^ValidationError: .*70000/);
  });

  it("registers the back end, sees it InService, then OutOfService with its reason when it stops", async () => {
    await section(page, "Load balancers");
    await page.locator(`tr[data-lb="${LB}"]`).waitFor(WAIT);
    await page.getByRole("link", { name: LB, exact: true }).click();
    await page.getByRole("heading", { name: LB, level: 1 }).waitFor(WAIT);
    const hc = page.getByRole("form", { name: "Configure the health check" });
    await hc.getByLabel("Target").fill(`HTTP:${BACKEND_PORT}/health`);
    await hc.getByLabel("Interval (s)").fill("5");
    await hc.getByLabel("Timeout (s)").fill("2");
    await hc.getByLabel("Healthy threshold", { exact: true }).fill("2");
    await hc.getByLabel("Unhealthy threshold").fill("2");
    await hc.getByRole("button", { name: "Save health check" }).click();
    await page.getByText(`HTTP:${BACKEND_PORT}/health every 5 s`).waitFor(WAIT);
    const reg = page.getByRole("form", { name: "Register an instance" });
    await reg.getByLabel("Instance ID or IP address").fill(BACKEND_ADDRESS);
    await reg.getByRole("button", { name: "Register" }).click();
    const row = page.locator(`tr[data-instance="${BACKEND_ADDRESS}"]`);
    await row.locator("td.state", { hasText: /^InService$/ }).waitFor(WAIT);
    // Traffic through the node until the chart's latest point shows it (the agents report every few seconds).
    const nodeAddress = await text(page.locator("table", { hasText: "Agent" }).locator("td.mono").nth(1));
    const caption = page.locator("figcaption", { hasText: "Requests per second" });
    await waitFor(
      async () => {
        for (let i = 0; i < 10; i++)
          await fetch(`http://${nodeAddress}:${LB_PORT}/`).then((r) => r.arrayBuffer());
        return /requests\/s [1-9]/.test((await caption.textContent()) ?? "");
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the requests chart to show the traffic" },
    );
    assert.equal(await page.locator(".chart canvas").count(), 4);
    await screenshot(page, "load-balancer");
    assert.deepEqual(await unlabelledControls(page), [], "load-balancer");

    await backend.stop();
    await row.locator("td.state", { hasText: /^OutOfService$/ }).waitFor(WAIT);
    await row.locator("td.failure", { hasText: /L4CON|refused/i }).waitFor(WAIT);
    await screenshot(page, "load-balancer-out-of-service");
    await section(page, "Load balancers");
    await page.locator(`tr[data-lb="${LB}"] td.out-of-service`, { hasText: "1" }).waitFor(WAIT);
    await screenshot(page, "load-balancers");
    assert.deepEqual(await unlabelledControls(page), [], "load-balancers");
  });

  it("shows the agents, connected, with the revision each applied (and fits a phone)", async () => {
    await section(page, "Agents");
    for (const zone of ["us-east-1a", "us-east-1b"])
      await page
        .locator("tbody tr", { hasText: zone })
        .locator("td.in-service", { hasText: "connected" })
        .waitFor(WAIT);
    assert.match(await text(page.locator("main")), /2 of 2 agents connected/);
    await page
      .locator("td.load", { hasText: /^\d+ connections, \d+ queued$/ })
      .first()
      .waitFor(WAIT);
    await screenshot(page, "agents");
    assert.deepEqual(await unlabelledControls(page), [], "agents");

    const phone = await newPage(browser, up.apiUrl, PHONE);
    closers.push(() => phone.context.close());
    await signIn(phone.page, up.apiUrl, ADMIN);
    await section(phone.page, "Agents");
    await phone.page.locator("tbody tr").first().waitFor(WAIT);
    await screenshot(phone.page, "agents-phone");
    const overflow = await phone.page.evaluate<number>(
      "document.documentElement.scrollWidth - window.innerWidth",
    );
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
    // Keyboard: Tab reaches the navigation's links with a visible focus.
    await phone.page.keyboard.press("Tab");
    const focused = await phone.page.evaluate<string | undefined>("document.activeElement?.tagName");
    assert.ok(focused === "A" || focused === "BUTTON", `focus on ${focused}`);
  });

  it("shows the revision timeline with who and what, and the diff between two revisions", async () => {
    await section(page, "State");
    const created = page.locator("tbody tr", { hasText: "CreateLoadBalancer" }).first();
    await created.waitFor(WAIT);
    assert.match(await text(created), /admin/);
    const revision = Number(await text(created.locator("th")));
    await page.getByLabel(`Compare from revision ${revision - 1}`).check();
    await page.getByLabel(`Compare to revision ${revision}`).check();
    await page.locator(".diff li", { hasText: LB }).first().waitFor(WAIT);
    await screenshot(page, "state");
    assert.deepEqual(await unlabelledControls(page), [], "state");
  });

  it("restores through a change ticket approved by another principal; the guard holds it; released with a ticket", async () => {
    // Bob: the second person, who may approve tickets (and do nothing else that changes anything).
    bob = await createPrincipal(client, "bob", ["BallastApprover"]);
    // Two more back ends registered through the API; restoring to before them takes both away
    // by a change that does not name the load balancer: more than half its back ends, so held.
    const before = await headRevision(client);
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: LB,
        Instances: [{ InstanceId: "127.0.163.50" }, { InstanceId: "127.0.163.51" }],
      }),
    );
    const registered = await headRevision(client);
    await waitFor(async () => (await agentsAt(client, "us-east-1a")) >= registered, {
      timeoutMs: 60_000,
      what: "the zone's agent to apply the registration",
    });

    // Alice opens the restore ticket on the State page…
    await section(page, "State");
    const open = page.getByRole("form", { name: "1. Open a restore ticket" });
    await open.getByLabel("Reason").fill("Undo the two test registrations");
    await open.getByLabel("Load balancers (names or * wildcards)").fill(LB);
    await open.getByRole("button", { name: "Open ticket" }).click();
    const ticketId = await text(page.locator(".ticket-id"));
    assert.match(ticketId, /^tkt-[0-9a-f]{16}$/);
    // …cannot approve it herself…
    await section(page, "Safety");
    await page.getByRole("button", { name: `Approve ${ticketId}` }).click();
    await page
      .getByRole("alert")
      .filter({
        hasText: new RegExp(`^AccessDenied: admin opened change ticket ${ticketId} and can never approve it`),
      })
      .waitFor(WAIT);
    // …and Bob approves it in his own browser context.
    const second = await newPage(browser, up.apiUrl);
    closers.push(() => second.context.close());
    await signIn(second.page, up.apiUrl, bob);
    await section(second.page, "Safety");
    await second.page.getByRole("button", { name: `Approve ${ticketId}` }).click();
    await second.page
      .locator(`tr[data-ticket="${ticketId}"] td.ticket-state`, { hasText: "approved" })
      .waitFor(WAIT);

    await section(page, "State");
    const restore = page.getByRole("form", { name: "2. Restore with an approved ticket" });
    await restore.getByLabel("Revision to restore").fill(String(before));
    await restore.getByLabel("Only these load balancers").fill(LB);
    await restore.locator(`option[value="${ticketId}"]`).waitFor({ state: "attached", timeout: 60_000 });
    await restore.getByLabel("Change ticket").selectOption(ticketId);
    await restore.getByRole("button", { name: "Restore" }).click();
    await page.getByText(/Restored as revision \d+\./).waitFor(WAIT);

    // The guard holds the restore's removals in us-east-1a: seen on the Safety page with its reason.
    await section(page, "Safety");
    const hold = page.locator('article.hold[data-zone="us-east-1a"]');
    await hold.locator(".reason", { hasText: new RegExp(`${LB} loses 2 of \\d back ends`) }).waitFor(WAIT);
    await hold.getByText("The change it holds back").click();
    await hold.locator(".diff li", { hasText: "127.0.163.50" }).first().waitFor(WAIT);
    await screenshot(page, "safety");
    assert.deepEqual(await unlabelledControls(page), [], "safety");

    // A release needs its own ticket, approved by Bob.
    const tickets = page.getByRole("group", { name: "Operations for a new ticket" });
    await tickets.getByLabel("ballast:RestoreState").uncheck();
    await tickets.getByLabel("ballast:ReleaseGuardHold").check();
    const openRelease = page.getByRole("form", { name: "Open a change ticket" });
    await openRelease.getByLabel("Reason").fill("Release the held restore in us-east-1a");
    await openRelease.getByRole("button", { name: "Open ticket" }).click();
    const releaseRow = page.locator("tbody tr", { hasText: "ballast:ReleaseGuardHold" }).first();
    await releaseRow.waitFor(WAIT);
    const releaseId = (await releaseRow.getAttribute("data-ticket")) ?? "";
    await second.page.getByRole("button", { name: `Approve ${releaseId}` }).click({ timeout: 60_000 });
    await hold.locator(`option[value="${releaseId}"]`).waitFor({ state: "attached", timeout: 60_000 });
    await hold.getByLabel("Change ticket for ballast:ReleaseGuardHold").selectOption(releaseId);
    await hold.getByRole("button", { name: "Release the hold in us-east-1a" }).click();
    await page.getByText("No change is held.").waitFor(WAIT);
  });

  it("loaded nothing from another origin and broke no Content-Security-Policy rule", () => {
    assert.deepEqual(record.offOrigin, []);
    assert.deepEqual(record.problems, []);
  });
});

/** Follows a link of the navigation bar. */
function section(page: Page, name: string): Promise<void> {
  return page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name }).click();
}

async function text(locator: Locator): Promise<string> {
  await locator.first().waitFor(WAIT);
  return (await locator.first().textContent()) ?? "";
}

async function headRevision(client: SignedClient): Promise<number> {
  const r = await client.send("GET", "/admin/v1/state/history?limit=1");
  return (JSON.parse(r.body) as { head: number }).head;
}

async function agentsAt(client: SignedClient, zone: string): Promise<number> {
  const r = await client.send("GET", "/admin/v1/agents");
  const agents = (JSON.parse(r.body) as { agents: { zone: string; configRevision: number }[] }).agents;
  return Math.min(...agents.filter((a) => a.zone === zone).map((a) => a.configRevision));
}
