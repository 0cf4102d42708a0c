// The smoke donation a deployed stack must pass (the release workflow's compose job runs it through
// the load balancer): a new donor and a campaign, one signed-in and one guest donation, each
// receipt polled until `captured`, and the campaign's total moved by both. Exits 0 or says what failed.
//
//   bun scripts/smoke.ts [gateway-url]      (default GATEWAY_URL or http://127.0.0.1:3000)
import { CliError, reach, runCli } from "./cli";

interface Pledge {
  id: string;
  status: string;
  receiptToken?: string;
  failureReason: string | null;
}

const TERMINAL_FAILURES = new Set(["failed", "cancelled", "expired", "refunded"]);

async function json<T>(res: Response, what: string, expected: number): Promise<T> {
  const text = await res.text();
  if (res.status !== expected)
    throw new CliError(`${what}: expected ${expected}, got ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await Bun.sleep(250);
  }
  throw new CliError(`${what}: not within ${timeoutMs / 1000} s`);
}

export async function smoke(gateway: string, log: (line: string) => void = console.log): Promise<void> {
  const api = (path: string, init: RequestInit & { token?: string; json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("authorization", `Bearer ${init.token}`);
    if (init.json !== undefined) headers.set("content-type", "application/json");
    return reach(`${gateway}${path}`, {
      ...init,
      headers,
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  };
  const run = crypto.randomUUID().slice(0, 8);

  await poll("the gateway to be ready", 60_000, async () =>
    (await api("/ready").catch(() => null))?.ok ? true : undefined,
  );
  const donor = await json<{ accessToken: string }>(
    await api("/api/auth/register", {
      method: "POST",
      json: { email: `smoke-${run}@example.org`, password: `smoke-password-${run}`, name: "Smoke Donor" },
    }),
    "register a donor",
    201,
  );
  const campaign = await json<{ id: string }>(
    await api("/api/campaigns", {
      method: "POST",
      token: donor.accessToken,
      json: { title: `Smoke ${run}`, description: "Smoke test campaign", goalMinor: 1_000_000, currency: "BDT" },
    }),
    "create a campaign",
    201,
  );
  log(`smoke: campaign ${campaign.id}`);
  const guest = await json<{ bankAccountId: string; accountSecret: string }>(
    await api("/api/bank/demo-accounts", { method: "POST" }),
    "open a guest's demo account",
    201,
  );

  const donations: Array<{ who: string; amountMinor: number; token?: string; body: Record<string, unknown> }> = [
    { who: "signed-in donor", amountMinor: 1_500, token: donor.accessToken, body: {} },
    {
      who: "guest",
      amountMinor: 2_500,
      body: {
        donor: { email: `smoke-guest-${run}@example.org`, name: "Smoke Guest" },
        source: { bankAccountId: guest.bankAccountId, accountSecret: guest.accountSecret },
      },
    },
  ];
  for (const d of donations) {
    const key = `smoke-${run}-${d.who}`;
    // The campaign reaches pledge through the bus: until then its pledges answer 404.
    const pledge = await poll(`the ${d.who}'s pledge to be accepted`, 30_000, async () => {
      const res = await api(`/api/campaigns/${campaign.id}/pledges`, {
        method: "POST",
        ...(d.token ? { token: d.token } : {}),
        headers: { "idempotency-key": key },
        json: { amountMinor: d.amountMinor, currency: "BDT", ...d.body },
      });
      // 429: a rate limit of the deployment (retried after the poll interval, with the same key).
      if ([404, 409, 429].includes(res.status) || res.status >= 500) return undefined;
      return json<Pledge>(res, `the ${d.who}'s pledge`, 202);
    });
    const receipt = await poll(`the ${d.who}'s pledge ${pledge.id} to be captured`, 60_000, async () => {
      const res = await api(`/api/pledges/${pledge.id}`, {
        ...(d.token ? { token: d.token } : { headers: { "x-receipt-token": pledge.receiptToken ?? "" } }),
      });
      const read = await json<Pledge>(res, "read the receipt", 200);
      if (TERMINAL_FAILURES.has(read.status))
        throw new CliError(`the ${d.who}'s pledge ${pledge.id} ended ${read.status} (${read.failureReason})`);
      return read.status === "captured" ? read : undefined;
    });
    log(`smoke: ${d.who} pledge ${receipt.id} captured`);
  }

  const raised = donations.reduce((s, d) => s + d.amountMinor, 0);
  await poll(`the campaign's total to reach ${raised}`, 30_000, async () => {
    const read = await json<{ raisedMinor: number }>(
      await api(`/api/campaigns/${campaign.id}`),
      "read the campaign",
      200,
    );
    return read.raisedMinor === raised ? true : undefined;
  });
  log(`smoke: campaign total ${raised} — ok`);
}

if (import.meta.main) {
  await runCli(() => smoke((process.argv[2] ?? process.env.GATEWAY_URL ?? "http://127.0.0.1:3000").replace(/\/$/, "")));
}
