// The browser tests' shared set-up: the web build, a real platform of the file's own, headless Chromium
// (Debian's, through playwright-core), pages in their own contexts (own storage: own session), sign-in.
import { afterAll, beforeAll } from "bun:test";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ROOT } from "../../scripts/stack";
import { ensureWebBuild } from "../../scripts/web";
import { expectCall, type System, useSystem } from "../system/support";

export const SHOTS = join(ROOT, "docs", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DESKTOP = { width: 1280, height: 860 };

export interface Viewport {
  width: number;
  height: number;
}

export interface WebSystem {
  sys: System;
  /** A page in a browser context of its own, closed after the file. */
  newPage(viewport?: Viewport): Promise<Page>;
  /** A fresh page signed in through the form. */
  signedInPage(email: string, password: string, viewport?: Viewport): Promise<Page>;
}

/** Registers the hooks, in the order they must run: build, platform, browser (closed after the file). */
export function useWebSystem(label: string): WebSystem {
  // Built before the platform starts (the gateway serves whatever apps/web/dist holds).
  beforeAll(async () => {
    await ensureWebBuild();
  }, 120_000);
  const sys = useSystem({ label });
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
  });

  async function newPage(viewport: Viewport = DESKTOP): Promise<Page> {
    const context = await browser.newContext({ viewport, baseURL: sys.gw });
    contexts.push(context);
    return context.newPage();
  }

  async function signedInPage(email: string, password: string, viewport: Viewport = DESKTOP): Promise<Page> {
    const page = await newPage(viewport);
    await fillSignIn(page, email, password);
    await submitSignIn(page);
    return page;
  }

  return { sys, newPage, signedInPage };
}

/** Opens the sign-in form and fills it (not sent: a test may look at it first). */
export async function fillSignIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
}

/** Sends the sign-in form and waits for the header to show who is signed in. */
export async function submitSignIn(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("who").waitFor();
}

/** A campaign created through the gateway by its owner; its id. */
export async function createCampaign(
  gw: string,
  token: string,
  body: { title: string; description: string; goalMinor: number; currency: string },
): Promise<string> {
  const campaign = await expectCall<{ id: string }>(201, gw, "POST", "/api/campaigns", body, { token });
  return campaign.id;
}
