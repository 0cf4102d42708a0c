// The signed-in screens in a real browser (Debian's Chromium through playwright-core, headless) on a
// platform of their own: two signed-in users chat on a campaign page (live, exactly once, text as text);
// a donor's My donations lists their pledge after donating. Writes docs/screenshots/chat.png.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import type { Page } from "playwright-core";
import { ADMIN, call, expectCall, login, PASSWORD, register, type Session } from "../system/support";
import { createCampaign, SHOTS, useWebSystem } from "./support";

const { sys, newPage, signedInPage: signedIn } = useWebSystem("web_chat");
let campaignId: string;

beforeAll(async () => {
  const owner = await register(sys.gw, "Organiser");
  campaignId = await createCampaign(sys.gw, owner.accessToken, {
    title: "School books for Rangpur",
    description: "Two hundred children start school without books this year.",
    goalMinor: 10_000_000,
    currency: "BDT",
  });
}, 60_000);

/** A page in a browser context of its own (its own storage: its own session), signed in through the form. */
function signedInPage(who: Session): Promise<Page> {
  return signedIn(who.user.email, PASSWORD);
}

/** How many messages in the page's chat show exactly this text. */
function shown(page: Page, text: string): Promise<number> {
  return page
    .getByTestId("chat-text")
    .filter({ hasText: text })
    .evaluateAll((els, t) => els.filter((e) => e.textContent === t).length, text);
}

/** Sends a message and waits for the room's echo (the optimistic copy is no longer pending). */
async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel("Your message").fill(text);
  await page.getByLabel("Your message").press("Enter");
  await waitFor(
    async () => (await shown(page, text)) === 1 && (await page.locator(".chat-message.pending").count()) === 0,
    {
      timeoutMs: 10_000,
      what: `"${text}" echoed by the room`,
    },
  );
}

describe("the signed-in screens in Chromium", () => {
  test("two signed-in users chat on a campaign page: live, exactly once, markup shown as text", async () => {
    const [alice, bilal] = await Promise.all([register(sys.gw, "Alice"), register(sys.gw, "Bilal")]);
    const [a, b] = await Promise.all([signedInPage(alice), signedInPage(bilal)]);
    for (const page of [a, b]) {
      await page.goto(`/campaigns/${campaignId}`);
      await page.getByRole("heading", { name: "Questions & answers" }).waitFor();
      await page.getByText("No messages yet.").waitFor();
      // A marker that a reload would wipe.
      await page.evaluate(() => Object.assign(window, { __noReload: true }));
    }
    // Each page's own message coming back through the room proves its socket has joined it.
    await say(a, "Hello from Alice");
    await say(b, "Hello from Bilal");
    await waitFor(async () => (await shown(a, "Hello from Bilal")) === 1, { what: "Bilal's hello at Alice's" });

    const text = "Is the <b>deadline</b> in March?";
    await say(a, text);
    await waitFor(async () => (await shown(b, text)) === 1, {
      timeoutMs: 10_000,
      what: "Alice's question on Bilal's page without a reload",
    });
    // A round trip after it: a duplicate of Alice's message would have arrived before this echo.
    await say(b, "Yes, by the 15th.");
    await waitFor(async () => (await shown(a, "Yes, by the 15th.")) === 1, { what: "Bilal's answer at Alice's" });
    for (const page of [a, b]) {
      expect(await shown(page, text)).toBe(1);
      expect(await page.getByTestId("chat-list").locator("b").count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    }
    // Newest first.
    expect(await b.getByTestId("chat-text").first().textContent()).toBe("Yes, by the 15th.");
    await b.getByRole("heading", { name: "Questions & answers" }).scrollIntoViewIfNeeded();
    await b.screenshot({ path: join(SHOTS, "chat.png"), fullPage: true });

    // A guest reads the same history but has no input.
    const guest = await newPage();
    await guest.goto(`/campaigns/${campaignId}`);
    await guest.getByText("Sign in to post a message.").waitFor();
    await waitFor(async () => (await shown(guest, text)) === 1, { what: "the history for a guest" });
    expect(await guest.getByLabel("Your message").count()).toBe(0);
  }, 60_000);

  test("a donor's My donations lists their pledge after donating; its capture lights the live badge and is marked read", async () => {
    const donor = await register(sys.gw, "Karim");
    // The new user's bank account is opened asynchronously after registration.
    await waitFor(
      async () => (await call(sys.gw, "GET", "/api/me/bank", undefined, { token: donor.accessToken })).status === 200,
      { what: "the donor's bank account" },
    );
    const page = await signedInPage(donor);
    await page.getByRole("link", { name: "My donations" }).click();
    await page.getByText("No donations yet.").waitFor();
    expect(await page.getByTestId("unread-badge").count()).toBe(0);
    // A marker that a reload would wipe: the badge must move by the pushed notification alone.
    await page.evaluate(() => Object.assign(window, { __noReload: true }));

    await page.getByRole("link", { name: "Campaigns" }).first().click();
    await page.getByRole("link", { name: "School books for Rangpur" }).click();
    await page.getByLabel("Amount", { exact: true }).fill("750");
    await page.getByRole("button", { name: /^Donate / }).click();
    await page.waitForURL(/\/pledges\//);
    const pledgeId = new URL(page.url()).pathname.split("/").pop();
    await waitFor(
      async () =>
        (await page
          .getByTestId("unread-badge")
          .textContent()
          .catch(() => null)) === "1",
      {
        timeoutMs: 20_000,
        what: "the capture's notification to light the header badge",
      },
    );
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

    await page.getByRole("link", { name: "My donations" }).click();
    const row = page.getByTestId("my-donations").locator("li");
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toContain("750");

    await page.getByRole("link", { name: /^Notifications/ }).click();
    const note = page.getByTestId("notifications").locator("li");
    await note.first().waitFor();
    expect(await note.count()).toBe(1);
    await note
      .first()
      .getByRole("button", { name: /^Mark read/ })
      .click();
    await page.getByTestId("unread-badge").waitFor({ state: "detached" });
    await page.getByLabel("Unread only").check();
    await page.getByText("Nothing unread.").waitFor();

    await page.getByRole("link", { name: "My donations" }).click();
    await row.first().getByRole("link").click();
    await page.waitForURL(`**/pledges/${pledgeId}`);
    await page.getByTestId("pledge-status").waitFor();
  }, 60_000);

  test("Support: a user writes in their own support room and an administrator reads it", async () => {
    const user = await register(sys.gw, "Nadia");
    const page = await signedInPage(user);
    await page.getByRole("link", { name: "Support" }).click();
    await page.getByRole("heading", { name: "Your support conversation" }).waitFor();
    await page.getByText("No messages yet.").waitFor();
    await say(page, "My receipt shows failed, was I charged?");
    const admin = await login(sys.gw, ADMIN.email, ADMIN.password);
    const history = await expectCall<{ userId: string; text: string }[]>(
      200,
      sys.gw,
      "GET",
      `/api/chat/rooms/support:${user.user.id}/messages`,
      undefined,
      { token: admin.accessToken },
    );
    expect(history.map((m) => [m.userId, m.text])).toEqual([[user.user.id, "My receipt shows failed, was I charged?"]]);
  }, 60_000);
});
