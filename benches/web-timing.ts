// Issue 11's two web budgets, measured in Chromium (Debian's, through playwright-core) against a started
// platform: (1) a campaign page shows its title and total within 1 s of navigation, (2) a captured
// donation moves the total on an open page within 250 ms of the capture. Both are read in the page
// itself: a MutationObserver installed before any script of the app records when the title and the
// total first appear (performance.now(), i.e. ms since navigation start) and every change of the total's
// text (performance.timeOrigin + performance.now(): the wall clock, which this machine's services share).
// A capture's moment is the pledge's own `captured` history entry (GET /api/pledges/:id with its receipt
// token). Measured, not asserted: a loaded machine is not a user's.
//
//   bun benches/web-timing.ts [--gw http://localhost:3000] [--navigations 5] [--captures 5]
//
// With --gw, against that started platform (`./cfa start`); without, on a platform of its own started
// as `./cfa start` runs it (benches/lib/platform.ts: every service its own process, rate limits on) and
// torn down after. One user, one campaign and one demo account whatever the rounds.
// tests/web/browser.e2e.test.ts runs the same measurement on its own platform.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ensureWebBuild } from "../scripts/web";
import { type Platform, startPlatform } from "./lib/platform";
import { machineInfo, median, percentile, RESULTS_DIR } from "./lib/report";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

interface TimingState {
  titleAt: number | null;
  totalAt: number | null;
  changes: { text: string; at: number }[];
}

/**
 * Runs in the page before the app's scripts: the moments the campaign's title (h1) and total
 * ([data-testid=raised]) first appear, and every change of the total's text with its wall-clock time.
 */
function observeTotals(): void {
  const state: TimingState = { titleAt: null, totalAt: null, changes: [] };
  (window as unknown as { __cfaTiming: TimingState }).__cfaTiming = state;
  let last: string | null = null;
  const check = () => {
    const now = performance.now();
    if (state.titleAt === null && document.querySelector("main h1")) state.titleAt = now;
    const total = document.querySelector('[data-testid="raised"]');
    if (!total) return;
    if (state.totalAt === null) state.totalAt = now;
    const text = total.textContent ?? "";
    if (text !== last) {
      last = text;
      state.changes.push({ text, at: performance.timeOrigin + now });
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
}

/** Installs the observer in every page of the page's context opened from now on (and on reloads). */
export async function installTimingObserver(page: Page): Promise<void> {
  await page.addInitScript(observeTotals);
}

async function timingState(page: Page): Promise<TimingState> {
  return page.evaluate(() => (window as unknown as { __cfaTiming: TimingState }).__cfaTiming);
}

/** "BDT 1,234.50", "$12.30" → minor units (every currency here has two minor digits). */
export function minorFromText(text: string): number {
  return Number(text.replace(/\D/g, ""));
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

async function json<T>(res: Response, expect: number, what: string): Promise<T> {
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export interface Navigation {
  /** ms from navigation start until the title was on screen. */
  titleMs: number;
  /** ms from navigation start until the total was on screen. */
  totalMs: number;
  /** The larger of the two: "title and total shown". */
  shownMs: number;
}

/** Navigates `page` (its context's observer installed) to the campaign and reads when title and total appeared. */
export async function measureNavigation(page: Page, campaignId: string, reload = false): Promise<Navigation> {
  if (reload) await page.reload();
  else await page.goto(`/campaigns/${campaignId}`);
  const state = await until("the title and total", 30_000, async () => {
    const s = await timingState(page);
    return s.titleAt !== null && s.totalAt !== null ? s : undefined;
  });
  const titleMs = Math.round(state.titleAt as number);
  const totalMs = Math.round(state.totalAt as number);
  return { titleMs, totalMs, shownMs: Math.max(titleMs, totalMs) };
}

export interface PayFrom {
  bankAccountId: string;
  accountSecret: string;
}

export interface Capture {
  pledgeId: string;
  /** The pledge's `captured` history entry, epoch ms. */
  capturedAt: number;
  /** When the open page's total first showed the new amount, epoch ms (the page's wall clock). */
  shownAt: number;
  /** shownAt − capturedAt. */
  ms: number;
}

/**
 * A guest donation of `amountMinor` paid from `source` to the campaign open on `page`, and how long after
 * its capture the page's total showed it. The campaign must see no other donation meanwhile.
 */
export async function measureCaptureToScreen(
  page: Page,
  gw: string,
  campaign: { id: string; currency: string },
  source: PayFrom,
  amountMinor: number,
  timeoutMs = 30_000,
): Promise<Capture> {
  const before = await timingState(page);
  const shownBefore = minorFromText(before.changes.at(-1)?.text ?? "0");
  const seen = before.changes.length;
  const pledge = await json<{ id: string; receiptToken: string }>(
    await fetch(`${gw}/api/campaigns/${campaign.id}/pledges`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() },
      body: JSON.stringify({
        amountMinor,
        currency: campaign.currency,
        donor: { email: "timing@example.org", name: "Timing" },
        source,
      }),
    }),
    202,
    "the pledge",
  );
  const capturedAt = await until("the pledge's capture", timeoutMs, async () => {
    const res = await fetch(`${gw}/api/pledges/${pledge.id}`, { headers: { "x-receipt-token": pledge.receiptToken } });
    const body = await json<{
      status: string;
      failureReason: string | null;
      history: { status: string; at: string }[];
    }>(res, 200, "the receipt");
    if (body.status === "failed") throw new Error(`the timing pledge failed: ${body.failureReason}`);
    const entry = body.history.find((h) => h.status === "captured");
    return entry ? Date.parse(entry.at) : undefined;
  });
  const shown = await until("the open page's total to show the capture", timeoutMs, async () => {
    const s = await timingState(page);
    return s.changes.slice(seen).find((c) => minorFromText(c.text) === shownBefore + amountMinor);
  });
  return { pledgeId: pledge.id, capturedAt, shownAt: shown.at, ms: Math.round(shown.at - capturedAt) };
}

export interface WebTimingResult {
  at: string;
  gateway: string;
  navigation: { cold: Navigation[]; warm: Navigation[]; budgetMs: 1000 };
  captureToScreen: { samples: number[]; medianMs: number; maxMs: number; budgetMs: 250 };
  machine: ReturnType<typeof machineInfo>;
  note?: string;
}

export function summarise(
  gateway: string,
  cold: Navigation[],
  warm: Navigation[],
  captures: Capture[],
  note?: string,
): WebTimingResult {
  const samples = captures.map((c) => c.ms);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    at: new Date().toISOString(),
    gateway,
    navigation: { cold, warm, budgetMs: 1000 },
    captureToScreen: {
      samples,
      medianMs: samples.length ? median(samples) : Number.NaN,
      maxMs: samples.length ? percentile(sorted, 100) : Number.NaN,
      budgetMs: 250,
    },
    machine: machineInfo(),
    ...(note ? { note } : {}),
  };
}

/** Writes benches/results/web-capture-to-screen-<date>.json; returns its path. */
export function writeResult(result: WebTimingResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `web-capture-to-screen-${result.at.replace(/:/g, "-")}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

export function describeResult(r: WebTimingResult): string {
  const nav = (list: Navigation[]) =>
    list.length ? `${list.map((n) => n.shownMs).join(", ")} ms (median ${median(list.map((n) => n.shownMs))})` : "-";
  return [
    `campaign page, title and total shown after navigation (budget ${r.navigation.budgetMs} ms): cold ${nav(r.navigation.cold)}; warm ${nav(r.navigation.warm)}`,
    `capture → total on an open page (budget ${r.captureToScreen.budgetMs} ms): ${r.captureToScreen.samples.join(", ")} ms (median ${r.captureToScreen.medianMs}, max ${r.captureToScreen.maxMs})`,
  ].join("\n");
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

async function main(): Promise<void> {
  const navigations = Number(flag("navigations", "5"));
  const captures = Number(flag("captures", "5"));
  let platform: Platform | undefined;
  if (!process.argv.includes("--gw")) {
    await ensureWebBuild((line) => console.log(line));
    platform = await startPlatform({ log: (line) => console.log(line) });
  }
  try {
    await measure(
      platform?.gatewayUrl ?? flag("gw", "http://localhost:3000").replace(/\/$/, ""),
      navigations,
      captures,
    );
  } finally {
    const failed = await platform?.teardown();
    if (failed?.length) console.error(`teardown: ${failed.join("; ")}`);
  }
}

async function measure(gw: string, navigations: number, captures: number): Promise<void> {
  const email = `web-timing-${Date.now()}@example.org`;
  const session = await json<{ accessToken: string }>(
    await fetch(`${gw}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "web-timing-password", name: "Web timing" }),
    }),
    201,
    "register",
  );
  const campaign = await json<{ id: string; currency: string }>(
    await fetch(`${gw}/api/campaigns`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session.accessToken}` },
      body: JSON.stringify({
        title: "Web timing",
        description: "Measured by benches/web-timing.ts",
        goalMinor: 10_000_000,
        currency: "BDT",
      }),
    }),
    201,
    "create campaign",
  );
  const source = await json<PayFrom>(
    await fetch(`${gw}/api/bank/demo-accounts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ currency: campaign.currency }),
    }),
    201,
    "demo account",
  );
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    const cold: Navigation[] = [];
    const warm: Navigation[] = [];
    for (let i = 0; i < navigations; i++) {
      const context = await browser.newContext({ baseURL: gw });
      const page = await context.newPage();
      await installTimingObserver(page);
      cold.push(await measureNavigation(page, campaign.id));
      warm.push(await measureNavigation(page, campaign.id, true));
      await context.close();
    }
    const context = await browser.newContext({ baseURL: gw });
    const page = await context.newPage();
    await installTimingObserver(page);
    await measureNavigation(page, campaign.id);
    const measured: Capture[] = [];
    for (let i = 0; i < captures; i++) measured.push(await measureCaptureToScreen(page, gw, campaign, source, 100 + i));
    const result = summarise(gw, cold, warm, measured, "bun benches/web-timing.ts");
    console.log(describeResult(result));
    console.log(`written to ${writeResult(result)}`);
  } finally {
    await browser?.close();
  }
}

if (import.meta.main) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
