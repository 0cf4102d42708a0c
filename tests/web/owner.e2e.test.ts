// A campaign owner in a real browser (Debian's Chromium through playwright-core) on the real platform:
// signs up, starts a campaign in USD, finds it in My campaigns and on its page, edits its goal, closes it
// behind a confirmation — and a donor whose page was open before the close is refused in words, while a
// fresh visit shows the campaign closed with no donate form. Another user sees no Edit or Close.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import { call, PASSWORD, register } from "../system/support";
import { SHOTS, useWebSystem } from "./support";

const { sys, newPage } = useWebSystem("web_owner");

interface Campaign {
  id: string;
  ownerId: string;
  title: string;
  goalMinor: number;
  currency: string;
  status: string;
}

describe("a campaign owner in Chromium", () => {
  test("signs up, starts a campaign, sees it listed and on its page, edits its goal, closes it; donating is then refused", async () => {
    const page = await newPage();
    await page.goto("/signup");
    await page.getByLabel("Name").fill("Olive Organiser");
    await page.getByLabel("Email").fill(`owner-${Date.now()}@example.org`);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByTestId("who").waitFor();

    // Start: checked before sending, then sent.
    await page.getByRole("main").getByRole("link", { name: "Start a campaign" }).click();
    await page.getByRole("heading", { name: "Start a campaign" }).waitFor();
    let posts = 0;
    page.on("request", (req) => {
      if (req.method() === "POST" && new URL(req.url()).pathname === "/api/campaigns") posts++;
    });
    await page.getByRole("button", { name: "Start the campaign" }).click();
    await page.getByText("A title of at least 3 characters").waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("campaign-title");
    expect(posts).toBe(0);
    await page.getByLabel("Title").fill("Books for Bhola");
    await page.getByLabel("Story").fill("Schoolbooks for the island's children.\n\nEvery dollar buys a book.");
    await page.getByLabel("Currency").selectOption("USD");
    await page.getByLabel("Goal (USD)").fill("2,500");
    expect(await page.getByTestId("goal-preview").textContent()).toBe("$2,500.00");
    await page.screenshot({ path: join(SHOTS, "owner-start.png"), fullPage: true });
    await page.getByRole("button", { name: "Start the campaign" }).click();
    await page.waitForURL(/\/campaigns\/[0-9a-f-]{36}$/);
    const id = new URL(page.url()).pathname.split("/").pop() as string;
    await page.getByRole("heading", { name: "Books for Bhola" }).waitFor();
    expect(await page.getByTestId("raised").textContent()).toBe("$0.00");
    expect(posts).toBe(1);

    // A guest's page, open before the close, with everything ready to donate in USD.
    const guest = await newPage();
    await guest.goto(`/campaigns/${id}`);
    await guest.getByLabel("Name", { exact: true }).fill("Rahim Uddin");
    await guest.getByLabel("Email (for your receipt)").fill("rahim@example.org");
    await guest.getByRole("button", { name: "Get a demo bank account in USD" }).click();
    await guest.getByTestId("demo-account").waitFor();
    // Not the owner: no Edit, no Close.
    expect(await guest.getByRole("button", { name: "Close the campaign" }).count()).toBe(0);

    // My campaigns lists it.
    await page.getByRole("link", { name: "My campaigns" }).click();
    const list = page.getByTestId("my-campaigns");
    await list.getByRole("link", { name: "Books for Bhola", exact: true }).waitFor();
    expect(await list.getByText("Active").count()).toBe(1);

    // Edit its goal.
    await list.getByRole("link", { name: "Books for Bhola", exact: true }).click();
    await page.getByRole("link", { name: "Edit", exact: true }).click();
    const goal = page.getByLabel("Goal (USD)");
    await goal.waitFor();
    expect(await goal.inputValue()).toBe("2500.00");
    await goal.fill("4,000");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForURL(new RegExp(`/campaigns/${id}$`));
    await page.getByText("raised of $4,000").waitFor();

    // Close it: the confirmation first, "Keep it open" sends nothing.
    let closes = 0;
    page.on("request", (req) => {
      if (req.method() === "POST" && req.url().endsWith(`/api/campaigns/${id}/close`)) closes++;
    });
    await page.getByRole("button", { name: "Close the campaign" }).click();
    const dialog = page.getByRole("dialog", { name: "Close “Books for Bhola”?" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Keep it open" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(closes).toBe(0);
    await page.getByRole("button", { name: "Close the campaign" }).click();
    await dialog.waitFor();
    await page.screenshot({ path: join(SHOTS, "owner-close.png") });
    await dialog.getByRole("button", { name: "Close it" }).click();
    await page.getByTestId("closed-badge").waitFor();
    expect(closes).toBe(1);
    await page.getByText("This campaign is closed and no longer takes donations.").waitFor();
    expect(await page.getByRole("button", { name: "Close the campaign" }).count()).toBe(0);

    const stored = (await call<Campaign>(sys.gw, "GET", `/api/campaigns/${id}`)).body;
    expect(stored).toMatchObject({ status: "closed", goalMinor: 400_000, currency: "USD", title: "Books for Bhola" });

    // The guest's stale page tries anyway: refused in words, nothing charged, and the page now says closed.
    await guest.getByRole("button", { name: /^Donate / }).click();
    await guest.getByRole("alert").getByText("This campaign is closed and no longer takes donations.").waitFor();
    expect(await guest.getByRole("alert").textContent()).toContain("Nothing was charged.");
    await guest.getByTestId("closed-badge").waitFor();
    expect(guest.url()).toContain(`/campaigns/${id}`);

    // My campaigns shows it closed, without an Edit link.
    await page.getByRole("link", { name: "My campaigns" }).click();
    await waitFor(async () => (await list.getByText("Closed").count()) === 1, { what: "My campaigns to show Closed" });
    expect(await list.getByRole("link", { name: "Edit Books for Bhola" }).count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, "owner.png"), fullPage: true });
  }, 120_000);

  test("another signed-in user sees neither Edit nor Close, and the edit screen says it is not theirs", async () => {
    const owner = await register(sys.gw, "Owner Two");
    const campaign = (
      await call<Campaign>(
        sys.gw,
        "POST",
        "/api/campaigns",
        { title: "Not yours", description: "", goalMinor: 10_000, currency: "BDT" },
        { token: owner.accessToken },
      )
    ).body;
    const other = await register(sys.gw, "Someone Else");
    const page = await newPage();
    await page.goto("/signin");
    await page.getByLabel("Email").fill(other.user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("who").waitFor();
    await page.goto(`/campaigns/${campaign.id}`);
    await page.getByRole("heading", { name: "Not yours" }).waitFor();
    expect(await page.getByRole("button", { name: "Close the campaign" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Edit", exact: true }).count()).toBe(0);
    await page.goto(`/campaigns/${campaign.id}/edit`);
    await page.getByText("Only its owner can change this campaign.").waitFor();
    expect(await page.getByLabel("Title").count()).toBe(0);
  }, 60_000);

  test("at phone width the owner's screens do not scroll sideways", async () => {
    const owner = await register(sys.gw, "Phone Owner");
    const id = (
      await call<Campaign>(
        sys.gw,
        "POST",
        "/api/campaigns",
        {
          title: "A campaign with a rather long title for a small phone screen",
          description: "",
          goalMinor: 10_000,
          currency: "EUR",
        },
        { token: owner.accessToken },
      )
    ).body.id;
    const page = await newPage({ width: 360, height: 740 });
    await page.goto("/signin");
    await page.getByLabel("Email").fill(owner.user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("who").waitFor();
    for (const [path, ready] of [
      ["/campaigns/new", "Start the campaign"],
      ["/me/campaigns", "Start a campaign"],
      [`/campaigns/${id}/edit`, "Save changes"],
      [`/campaigns/${id}`, "Close the campaign"],
    ] as const) {
      await page.goto(path);
      await page
        .getByRole(path === "/me/campaigns" ? "link" : "button", { name: ready })
        .first()
        .waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect({ path, overflow }).toEqual({ path, overflow: 0 });
      // Let the page's token refresh land before leaving it: a refresh cut off by a full page load has
      // rotated the token server-side without the browser keeping the new one, and the next load's
      // refresh with the old one then ends the session (reuse detection).
      await page.waitForLoadState("networkidle");
    }
  }, 60_000);
});
