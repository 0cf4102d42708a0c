// Swagger UI in a real browser (Debian's Chromium, driven by playwright-core), as an API consumer
// meets it at /docs/: every operation is listed, and "Try it out" → "Execute" with the documented
// example works end to end — a guest opens a demo account, then donates to a real campaign.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { waitForPledgeView } from "./money";
import { createCampaign, register, useStack } from "./support";

const e2e = useStack({}, { label: "docs_ui" });
let browser: Browser;
let page: Page;
let campaignId: string;

beforeAll(async () => {
  const owner = await register(e2e.gw, { name: "Docs Owner" });
  campaignId = (await createCampaign(e2e.gw, owner.token, { title: "Tried from the docs" })).id;
  await waitForPledgeView(e2e.gw, campaignId, "EUR", 422);
  // --no-sandbox: the suite may run as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  page = await browser.newPage();
  await page.goto(`${e2e.gw}/docs/`);
  await page.waitForSelector(".opblock", { timeout: 20_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** Opens an operation, presses "Try it out", fills its parameters, executes; answers the status shown. */
async function tryItOut(tag: string, operationId: string, fill: Record<string, string> = {}): Promise<string> {
  const op = page.locator(`#operations-${tag}-${operationId}`);
  await op.locator(".opblock-summary").click();
  // The page opens operations ready to try (tryItOutEnabled); press "Try it out" only if it is not.
  const tryOut = op.locator("button.try-out__btn");
  if ((await tryOut.innerText()).includes("Try it out")) await tryOut.click();
  for (const [name, value] of Object.entries(fill)) await op.locator(`tr[data-param-name="${name}"] input`).fill(value);
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor({ timeout: 20_000 });
  return (await status.innerText()).trim();
}

describe("Swagger UI at /docs/", () => {
  test("lists every operation of the document", async () => {
    const doc = (await (await fetch(`${e2e.gw}/docs/json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(await page.locator(".opblock").count()).toBe(operations);
  });

  test("Try it out with the examples: a demo account opens (201), then a guest's donation is accepted (202)", async () => {
    expect(await tryItOut("bank", "openDemoAccount")).toBe("201");
    expect(await tryItOut("pledges", "createPledge", { id: campaignId, "idempotency-key": crypto.randomUUID() })).toBe(
      "202",
    );
  }, 60_000);
});
