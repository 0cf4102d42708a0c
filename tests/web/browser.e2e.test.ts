// The web app in a real browser (Debian's Chromium through playwright-core, headless) against the
// real platform: a guest donates and watches the receipt reach `captured` while another open page's
// total rises without a reload; a signed-in donor double-clicks Donate and exactly one pledge exists;
// a declined test account shows its failure reason; a phone-width page does not scroll sideways; the
// budgets "title and total within 1 s of navigation" and "a capture on screen within 250 ms" are
// measured (benches/web-timing.ts, printed and written to benches/results/, not asserted), and after the
// gateway restarts under an open page its socket comes back and the total still moves.
// Screenshots of the main screens go to docs/screenshots/.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import type { Page } from "playwright-core";
import {
  describeResult,
  installTimingObserver,
  measureCaptureToScreen,
  measureNavigation,
  summarise,
  writeResult,
} from "../../benches/web-timing";
import { call, expectCall, PASSWORD, register } from "../system/support";
import { createCampaign, fillSignIn, SHOTS, submitSignIn, useWebSystem } from "./support";

const { sys, newPage } = useWebSystem("web");
let campaignId: string;
let ownerToken: string;

beforeAll(async () => {
  const owner = await register(sys.gw, "Organiser");
  ownerToken = owner.accessToken;
  campaignId = await createCampaign(sys.gw, owner.accessToken, {
    title: "Clean water for Sylhet",
    description:
      "Flood season cut off the wells in three villages.\n\nEvery taka buys filters and jerry cans, delivered by local volunteers.",
    goalMinor: 50_000_000,
    currency: "BDT",
  });
}, 60_000);

/** The raised amount shown on a campaign page, in minor units (BDT: "BDT 1,234.50" or "৳1,234.50"). */
async function raisedMinor(page: Page): Promise<number> {
  const text = (await page.getByTestId("raised").first().textContent()) ?? "";
  return Math.round(Number(text.replace(/[^\d.]/g, "")) * 100);
}

describe("the web app in Chromium", () => {
  test("a guest donates, the receipt reaches captured and another open page's total rises without reload", async () => {
    const watcher = await newPage();
    await watcher.goto("/");
    await watcher.getByRole("link", { name: "Clean water for Sylhet" }).waitFor();
    await watcher.screenshot({ path: join(SHOTS, "campaigns.png") });
    await watcher.getByRole("link", { name: "Clean water for Sylhet" }).click();
    await watcher.getByRole("heading", { name: "Clean water for Sylhet" }).waitFor();
    // A marker that a reload would wipe.
    await watcher.evaluate(() => Object.assign(window, { __noReload: true }));
    const before = await raisedMinor(watcher);

    const guest = await newPage();
    // Issue 11's budget (reported, not asserted: a loaded CI machine is not a user's): the title and
    // total shown within 1 s of navigating to a campaign page.
    const started = performance.now();
    await guest.goto(`/campaigns/${campaignId}`);
    await guest.getByTestId("raised").waitFor();
    const cold = Math.round(performance.now() - started);
    // Again with the browser's cache warm (hashed assets are immutable: only the API call is made).
    const again = performance.now();
    await guest.reload();
    await guest.getByTestId("raised").waitFor();
    const warm = Math.round(performance.now() - again);
    console.log(`campaign page: title and total shown ${cold} ms (cold cache) / ${warm} ms (warm) after navigation`);
    await guest.getByLabel("Name", { exact: true }).fill("Rahim Uddin");
    await guest.getByLabel("Email (for your receipt)").fill("rahim@example.org");
    await guest.getByRole("button", { name: "Get a demo bank account" }).click();
    await guest.getByTestId("demo-account").waitFor();
    await guest.getByLabel("Amount", { exact: true }).fill("1234.50");
    await guest.getByLabel("Message (optional)").fill("For the wells");
    await guest.screenshot({ path: join(SHOTS, "campaign.png"), fullPage: true });
    await guest.getByRole("button", { name: /^Donate / }).click();
    await guest.waitForURL(/\/pledges\//);
    await waitFor(async () => (await guest.getByTestId("pledge-status").textContent()) === "captured", {
      timeoutMs: 20_000,
      what: "the receipt to show captured",
    });
    await guest.screenshot({ path: join(SHOTS, "receipt.png"), fullPage: true });
    // The receipt is remembered by this browser: a reload reads it with the stored receipt token.
    await guest.reload();
    await waitFor(async () => (await guest.getByTestId("pledge-status").textContent()) === "captured", {
      what: "the reloaded receipt",
    });

    await waitFor(async () => (await raisedMinor(watcher)) === before + 123_450, {
      timeoutMs: 10_000,
      what: "the open campaign page's total to rise by 1,234.50",
    });
    expect(await watcher.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    expect(await watcher.getByTestId("donors").textContent()).toBe("1");
  }, 60_000);

  test("a signed-in donor double-clicks Donate and exactly one pledge exists", async () => {
    const donor = await register(sys.gw, "Karim");
    // The new user's bank account is opened asynchronously after registration.
    await waitFor(
      async () => (await call(sys.gw, "GET", "/api/me/bank", undefined, { token: donor.accessToken })).status === 200,
      {
        what: "the donor's bank account",
      },
    );
    const page = await newPage();
    let posts = 0;
    page.on("request", (req) => {
      if (req.method() === "POST" && /\/api\/campaigns\/[^/]+\/pledges$/.test(req.url())) posts++;
    });
    await fillSignIn(page, donor.user.email, PASSWORD);
    await page.screenshot({ path: join(SHOTS, "sign-in.png") });
    await submitSignIn(page);
    await page.goto(`/campaigns/${campaignId}`);
    await page.getByRole("button", { name: /^Donate / }).waitFor();
    await page.getByLabel("Amount", { exact: true }).fill("500");
    await page.getByRole("button", { name: /^Donate / }).dblclick();
    await page.waitForURL(/\/pledges\//);
    await waitFor(async () => (await page.getByTestId("pledge-status").textContent()) === "captured", {
      timeoutMs: 20_000,
      what: "the signed-in donor's receipt to show captured",
    });
    const mine = await expectCall<{ items: { amountMinor: number }[] }>(
      200,
      sys.gw,
      "GET",
      "/api/me/pledges",
      undefined,
      {
        token: donor.accessToken,
      },
    );
    expect(mine.items.map((p) => p.amountMinor)).toEqual([50_000]);
    expect(posts).toBe(1);

    // Signing out forgets the session in this browser.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => localStorage.getItem("cfa.session"))).toBeNull();
  }, 60_000);

  test("sign up through the form; a taken email is told; bad input is refused before sending", async () => {
    const page = await newPage();
    await page.goto("/signup");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("At least 8 characters").waitFor();
    expect(await page.getByLabel("Email").getAttribute("aria-invalid")).toBe("true");
    const email = `web-${Date.now()}@example.org`;
    await page.getByLabel("Name").fill("Nasrin");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByTestId("who").waitFor();
    expect(await page.getByTestId("who").textContent()).toBe("Nasrin");
    // A reload keeps the session (refresh token in storage, a new access token in memory).
    await page.reload();
    await page.getByTestId("who").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.goto("/signup");
    await page.getByLabel("Name").fill("Nasrin again");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("alert").waitFor();
    expect(page.url()).toContain("/signup");
  }, 60_000);

  test("a declined test account shows its failure reason", async () => {
    const page = await newPage();
    await page.goto(`/campaigns/${campaignId}`);
    await page.getByLabel("Name", { exact: true }).fill("Test Declined");
    await page.getByLabel("Email (for your receipt)").fill("declined@example.org");
    await page.getByLabel("Another account").check();
    await page.getByLabel("Account id").fill("acct_test_declined");
    await page.getByLabel("Account secret").fill("test");
    await page.getByRole("button", { name: /^Donate / }).click();
    await page.waitForURL(/\/pledges\//);
    await waitFor(async () => (await page.getByTestId("pledge-status").textContent()) === "failed", {
      timeoutMs: 20_000,
      what: "the declined pledge to show failed",
    });
    const reason = (await page.getByTestId("failure-reason").textContent()) ?? "";
    expect(reason.length).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, "receipt-failed.png"), fullPage: true });
  }, 60_000);

  test("keyboard only: skip link, a preset with Space, Enter submits and focus lands on the first bad field", async () => {
    const page = await newPage();
    await page.goto(`/campaigns/${campaignId}`);
    await page.getByRole("heading", { name: "Clean water for Sylhet" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await page.getByRole("button", { name: "BDT 2,500" }).focus();
    await page.keyboard.press("Space");
    expect(await page.getByLabel("Amount", { exact: true }).inputValue()).toBe("2500.00");
    await page.getByLabel("Amount", { exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.getByText("Your name, for the receipt").waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("donor-name");
  }, 60_000);

  test("a phone-width page has no horizontal scroll", async () => {
    const page = await newPage({ width: 360, height: 740 });
    for (const path of ["/", `/campaigns/${campaignId}`, "/signup"]) {
      await page.goto(path);
      await page.locator("h1").first().waitFor();
      await page
        .getByText("Loading")
        .first()
        .waitFor({ state: "detached" })
        .catch(() => {});
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
    }
    await page.goto(`/campaigns/${campaignId}`);
    await page.getByRole("heading", { name: "Clean water for Sylhet" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "campaign-phone.png"), fullPage: true });
  }, 60_000);

  test("capture → screen and navigation → title and total are measured; after a gateway restart the open page's total still moves", async () => {
    // A campaign of its own: no other donation moves its total while it is measured.
    const id = await createCampaign(sys.gw, ownerToken, {
      title: "Timing the screen",
      description: "Measured by the browser suite.",
      goalMinor: 10_000_000,
      currency: "BDT",
    });
    const campaign = { id, currency: "BDT" };
    const source = await expectCall<{ bankAccountId: string; accountSecret: string }>(
      201,
      sys.gw,
      "POST",
      "/api/bank/demo-accounts",
      { currency: "BDT" },
    );
    const page = await newPage();
    await installTimingObserver(page);
    // Every WebSocket the page opens, counted: the reconnect after the restart is seen, not assumed.
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      const w = window as unknown as { __wsOpens: number };
      w.__wsOpens = 0;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          this.addEventListener("open", () => w.__wsOpens++);
        }
      };
    });
    const cold = [await measureNavigation(page, id)];
    const warm = [await measureNavigation(page, id, true)];
    await page.evaluate(() => Object.assign(window, { __noReload: true }));
    const opens = () => page.evaluate(() => (window as unknown as { __wsOpens: number }).__wsOpens);
    await waitFor(async () => (await opens()) === 1, { what: "the page's socket to open" });

    const captures = [];
    for (const amount of [10_000, 20_000, 30_000])
      captures.push(await measureCaptureToScreen(page, sys.gw, campaign, source, amount));
    const result = summarise(
      sys.gw,
      cold,
      warm,
      captures,
      "tests/web/browser.e2e.test.ts (its own platform, shared CI machine)",
    );
    console.log(describeResult(result));
    console.log(`written to ${writeResult(result)}`);
    // Measured, not asserted (a loaded 2-core machine is not a user's): only that each one arrived.
    expect(captures.every((c) => c.shownAt > 0 && Number.isFinite(c.ms))).toBe(true);
    expect(await raisedMinor(page)).toBe(60_000);

    // The gateway is killed under the open page (its socket dies with it) and started again.
    await sys.stack.kill("gateway");
    await sys.restart("gateway");
    await waitFor(async () => (await opens()) >= 2, {
      timeoutMs: 45_000,
      what: "the page's socket to reconnect after the gateway restart",
    });
    const after = await measureCaptureToScreen(page, sys.gw, campaign, source, 40_000, 45_000);
    console.log(`after the gateway restart, capture → screen ${after.ms} ms`);
    expect(await raisedMinor(page)).toBe(100_000);
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  }, 180_000);
});
