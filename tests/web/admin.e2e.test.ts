// The admin panel in a real browser (Debian's Chromium, headless) against its own real platform: an
// admin signs in, opens the panel from the nav, sees the audit at zero drift with no alarm, changes a
// bank fault knob (a bad value is refused before sending) and the API reads it back; refunds a captured
// pledge after confirming; the panel fits a phone's width; a donor is told "admins only" (and the API
// refuses them). Writes docs/screenshots/admin.png.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "@careforall/testkit";
import { ADMIN, call, expectCall, login, PASSWORD, register, uniqueEmail } from "../system/support";
import { createCampaign, SHOTS, useWebSystem } from "./support";

const web = useWebSystem("webadmin");
const { sys } = web;
let adminToken: string;
let pledgeId: string;

interface Audit {
  campaigns: { campaignId: string }[];
  totalDriftMinor: number;
  stuckPledges: number;
}

/** A guest's donation from a fresh demo account, accepted (the campaign may still be new to the pledge service). */
async function donate(campaignId: string, amountMinor: number): Promise<{ id: string }> {
  const account = await expectCall<{ bankAccountId: string; accountSecret: string }>(
    201,
    sys.gw,
    "POST",
    "/api/bank/demo-accounts",
  );
  const key = crypto.randomUUID();
  return waitFor(
    async () => {
      const reply = await call<{ id: string }>(
        sys.gw,
        "POST",
        `/api/campaigns/${campaignId}/pledges`,
        {
          amountMinor,
          currency: "BDT",
          donor: { email: uniqueEmail("admin-web"), name: "Guest" },
          source: { bankAccountId: account.bankAccountId, accountSecret: account.accountSecret },
        },
        { headers: { "idempotency-key": key } },
      );
      if (reply.status === 202) return reply.body;
      // The pledge service learns of a new campaign from its event, a moment after the 201.
      if (reply.status === 404) return undefined;
      throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
    },
    { what: "the pledge to be accepted" },
  );
}

// One campaign with one captured guest donation, so the audit has a row and there is a pledge to refund.
beforeAll(async () => {
  adminToken = (await login(sys.gw, ADMIN.email, ADMIN.password)).accessToken;
  const owner = await register(sys.gw, "Organiser");
  const campaignId = await createCampaign(sys.gw, owner.accessToken, {
    title: "Winter blankets",
    description: "Blankets for the cold months.",
    goalMinor: 1_000_000,
    currency: "BDT",
  });
  pledgeId = (await donate(campaignId, 25_000)).id;
  await waitFor(
    async () => {
      const p = await call<{ status: string }>(sys.gw, "GET", `/api/pledges/${pledgeId}`, undefined, {
        token: adminToken,
      });
      if (p.body.status !== "captured") return false;
      const a = await call<Audit>(sys.gw, "GET", "/api/admin/audit", undefined, { token: adminToken });
      return a.body.campaigns.length === 1 && a.body.totalDriftMinor === 0 && a.body.stuckPledges === 0;
    },
    { timeoutMs: 20_000, what: "the pledge captured and the audit settled at zero drift" },
  );
}, 60_000);

/** Signed in through the form, 900 px tall (the admin.png screenshot). */
function signedIn(email: string, password: string) {
  return web.signedInPage(email, password, { width: 1280, height: 900 });
}

async function latency(token: string): Promise<number> {
  const faults = await expectCall<{ latencyMs: number }>(200, sys.gw, "GET", "/api/admin/bank/faults", undefined, {
    token,
  });
  return faults.latencyMs;
}

describe("the admin panel in Chromium", () => {
  test("an admin sees the audit at zero drift and changes a bank fault knob", async () => {
    expect(await latency(adminToken)).toBe(0);

    const page = await signedIn(ADMIN.email, ADMIN.password);
    await page.getByRole("link", { name: "Admin", exact: true }).click();
    await page.getByRole("heading", { name: "Admin panel" }).waitFor();
    const summary = page.getByTestId("audit-summary");
    await summary.waitFor();
    expect(await page.getByTestId("total-drift").textContent()).toBe("0");
    expect(await page.getByTestId("stuck").textContent()).toBe("0");
    expect(await summary.textContent()).toContain("All consistent");
    expect(await summary.getAttribute("class")).not.toContain("admin-alarm");
    expect(await page.locator(".admin-table tbody tr").first().textContent()).toContain("Winter blankets");
    await page.getByRole("button", { name: "Run again" }).click();
    await page.getByRole("button", { name: "Run again" }).waitFor();

    // A bad value is refused before anything is sent.
    const field = page.getByLabel(/^Latency \(ms\)/);
    await field.fill("-5");
    await page.getByRole("button", { name: "Save knobs" }).click();
    await page.getByText("A whole number of milliseconds from 0 to 60000").waitFor();
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    expect(await latency(adminToken)).toBe(0);

    await field.fill("50");
    await page.getByRole("button", { name: "Save knobs" }).click();
    await page.getByTestId("faults-saved").waitFor();
    expect(await latency(adminToken)).toBe(50);
    await page.screenshot({ path: join(SHOTS, "admin.png"), fullPage: true });

    // Put it back, through the panel again.
    await field.fill("0");
    await page.getByRole("button", { name: "Save knobs" }).click();
    await waitFor(async () => (await latency(adminToken)) === 0, { what: "latencyMs back to 0" });
  }, 60_000);

  test("an admin refunds a captured pledge from the list, after confirming", async () => {
    const page = await signedIn(ADMIN.email, ADMIN.password);
    await page.goto("/admin");
    const refund = page.getByRole("button", { name: `Refund pledge ${pledgeId.slice(0, 8)}` });
    await refund.waitFor();
    // Dismissing the confirmation sends nothing.
    page.once("dialog", (d) => void d.dismiss());
    await refund.click();
    expect(
      (await call<{ status: string }>(sys.gw, "GET", `/api/pledges/${pledgeId}`, undefined, { token: adminToken })).body
        .status,
    ).toBe("captured");
    page.once("dialog", (d) => void d.accept());
    await refund.click();
    await page.getByText(/Refund started for pledge/).waitFor();
    await waitFor(
      async () =>
        (await call<{ status: string }>(sys.gw, "GET", `/api/pledges/${pledgeId}`, undefined, { token: adminToken }))
          .body.status === "refunded",
      { timeoutMs: 20_000, what: "the pledge to become refunded" },
    );

    // At phone width the tables scroll inside their cards; the page itself does not scroll sideways.
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    await page.getByTestId("audit-summary").waitFor();
    await page.locator(".admin-table").first().waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBe(0);
  }, 60_000);

  test("an operator notification (a goal reached) arrives live on the open panel", async () => {
    const page = await signedIn(ADMIN.email, ADMIN.password);
    await page.goto("/admin");
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    await page.locator('[data-testid="notifications"][aria-busy="false"]').waitFor();
    await page.getByTestId("audit-summary").waitFor();
    await page.evaluate(() => Object.assign(window, { __noReload: true }));
    const before = await page.locator(".admin-notes li").count();
    const owner = await register(sys.gw, "Small goal organiser");
    const small = await expectCall<{ id: string }>(
      201,
      sys.gw,
      "POST",
      "/api/campaigns",
      { title: "A small goal", description: "Reached by one donation.", goalMinor: 10_000, currency: "BDT" },
      { token: owner.accessToken },
    );
    await donate(small.id, 10_000);
    await waitFor(async () => (await page.locator(".admin-notes li").count()) > before, {
      timeoutMs: 20_000,
      what: "a notification to appear on the open admin panel",
    });
    expect(await page.locator(".admin-notes li").first().textContent()).toContain("campaign.goal_reached");
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  }, 60_000);

  test("a donor sees 'admins only' and the API refuses them", async () => {
    const donor = await register(sys.gw, "Plain Donor");
    const page = await signedIn(donor.user.email, PASSWORD);
    expect(await page.getByRole("link", { name: "Admin", exact: true }).count()).toBe(0);
    await page.goto("/admin");
    await page.getByTestId("admins-only").waitFor();
    expect(await page.getByTestId("admins-only").textContent()).toContain("Admins only");
    expect((await call(sys.gw, "GET", "/api/admin/audit", undefined, { token: donor.accessToken })).status).toBe(403);
  }, 60_000);
});
