// The package surface other services use: `BankApp` drives a typed Eden client (payment and the
// gateway call the bank through it), and the signature helpers import from "@careforall/bank".
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BankApp, signWebhook, TEST_ACCOUNTS, verifyWebhookSignature } from "@careforall/bank";
import { treaty } from "@elysiajs/eden";
import { type BankTestApp, startBankTestApp } from "./support";

let h: BankTestApp;
let server: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  h = await startBankTestApp();
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: h.app.fetch });
});
afterAll(async () => {
  server.stop(true);
  await h.stop();
});

test("a typed Eden client over the network: grant, authorize, replay, capture, hold lookup", async () => {
  // Each call carries what its real caller sends (payment's, pledge's or the gateway's credential).
  const bank = treaty<BankApp>(`http://127.0.0.1:${server.port}`, {
    fetcher: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(await h.headersFor(new URL(String(input)).pathname))) headers.set(k, v);
      return fetch(input, { ...init, headers });
    }) as typeof fetch,
  });
  const opened = await bank.bank.accounts.post({});
  expect(opened.status).toBe(201);
  const account = opened.data!;
  const granted = await bank.bank.grants.post({
    accountId: account.bankAccountId,
    accountSecret: account.accountSecret,
  });
  expect(granted.status).toBe(201);

  const body = {
    idempotencyKey: Bun.randomUUIDv7(),
    accountId: account.bankAccountId,
    grant: granted.data!.grant,
    amountMinor: 2500,
    currency: "BDT" as const,
    campaignId: "eden-campaign",
    paymentRef: "eden-payment",
  };
  const authorized = await bank.bank.authorize.post(body);
  expect(authorized.data).toMatchObject({ status: "held", amountMinor: 2500 });
  const replay = await bank.bank.authorize.post(body);
  expect(replay.response.headers.get("idempotent-replayed")).toBe("true");
  expect(replay.data).toEqual(authorized.data!);

  const holdId = authorized.data!.holdId!;
  const captured = await bank.bank.capture.post({ idempotencyKey: `${body.idempotencyKey}:capture`, holdId });
  expect(captured.data).toMatchObject({ holdId, capturedMinor: 2500, status: "captured" });
  const hold = await bank.bank.holds({ id: holdId }).get();
  expect(hold.data?.status).toBe("captured");
  const byKey = await bank.bank.holds["by-key"]({ key: body.idempotencyKey }).get();
  expect(byKey.data?.holdId).toBe(holdId);
  const missing = await bank.bank.holds["by-key"]({ key: "unknown" }).get();
  expect(missing.status).toBe(404);

  const slow = await bank.bank["check-balance"].post({ accountId: TEST_ACCOUNTS.slow });
  expect(slow.data?.currency).toBe("BDT");
  const faults = await bank.bank.faults.put({ webhookReorder: false });
  expect(faults.data?.errorRate).toBe(0);
});

test("the signature helpers are exported from the package", () => {
  const header = signWebhook("secret-0123456789abcdef", "{}", 100);
  expect(verifyWebhookSignature("secret-0123456789abcdef", header, "{}", 100)).toBe(true);
});
