// The donate panel in a DOM: a double click (and a second submit while the first is in flight) sends
// one request; a retry of the same form after a failure reuses its Idempotency-Key; a changed form is
// a new attempt with a new key; invalid input is refused before sending, field by field; a signed-in
// donor whose own account holds BDT is warned before giving to a USD campaign and pays from a USD demo
// account instead; a campaign closed meanwhile is said in words.
import { afterEach, describe, expect, test } from "bun:test";
import { Route, Router } from "@solidjs/router";
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createApi } from "../../src/api/client";
import { DonatePanel } from "../../src/components/donate-panel";
import { type AppServices, Services } from "../../src/context";
import { createReceipts } from "../../src/lib/receipts";
import { memoryStorage } from "../../src/lib/storage";
import { createRealtime } from "../../src/realtime/socket";

interface Sent {
  key: string | null;
  body: Record<string, unknown>;
  release: (res: Response) => void;
}

const DONOR = {
  id: "0193e3f0-0000-7000-8000-0000000000d1",
  email: "d@example.org",
  name: "Dina",
  role: "donor" as const,
  bankAccountId: "acct_own",
};

function setup(options: { currency?: string; signedIn?: { bankCurrency: string } } = {}) {
  const sent: Sent[] = [];
  const calls: string[] = [];
  const currency = options.currency ?? "BDT";
  const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    calls.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
    if (url.endsWith("/api/me/bank"))
      return Promise.resolve(
        Response.json({
          bankAccountId: "acct_own",
          balanceMinor: 1_000_000,
          availableMinor: 1_000_000,
          currency: options.signedIn?.bankCurrency,
        }),
      );
    if (url.endsWith("/api/bank/demo-accounts"))
      return Promise.resolve(
        Response.json(
          {
            bankAccountId: `acct_demo_${JSON.parse(String(init?.body)).currency}`,
            accountSecret: "usd-secret",
            balanceMinor: 1_000_000,
            currency: JSON.parse(String(init?.body)).currency,
          },
          { status: 201 },
        ),
      );
    if (/\/pledges$/.test(url) && init?.method === "POST")
      return new Promise<Response>((release) =>
        sent.push({
          key: new Headers(init.headers).get("idempotency-key"),
          body: JSON.parse(String(init.body)),
          release,
        }),
      );
    return Promise.resolve(Response.json({}, { status: 404 }));
  }) as typeof globalThis.fetch;
  const storage = memoryStorage();
  const receipts = createReceipts(storage);
  receipts.rememberDemoAccount({ bankAccountId: "acct_demo_1", accountSecret: "s3cret", currency: "BDT" });
  let n = 0;
  const api = createApi({ baseUrl: "http://localhost:3000", fetch, storage });
  if (options.signedIn)
    api.session.adopt({ user: DONOR, accessToken: "access", refreshToken: "refresh", expiresIn: 900 });
  const services: AppServices = {
    api,
    realtime: createRealtime({ url: "ws://x/api/ws", token: async () => null, connect: () => ({}) as never }),
    receipts,
    newKey: () => `key-${++n}`,
  };
  render(() => (
    <Services.Provider value={services}>
      <Router>
        <Route
          path="*"
          component={() => (
            <DonatePanel
              campaign={{
                id: "0193e3f0-0000-7000-8000-000000000001",
                title: "Wells",
                currency,
                status: "active",
              }}
            />
          )}
        />
      </Router>
    </Services.Provider>
  ));
  return { sent, receipts, calls };
}

const created = (id: string) =>
  Response.json(
    {
      id,
      campaignId: "c",
      amountMinor: 100_000,
      currency: "BDT",
      status: "pending",
      createdAt: new Date().toISOString(),
      receiptToken: "rt",
    },
    { status: 202 },
  );

function fillGuest() {
  fireEvent.input(screen.getByLabelText("Name"), { target: { value: "Rahim" } });
  fireEvent.input(screen.getByLabelText("Email (for your receipt)"), { target: { value: "rahim@example.org" } });
}

const donateButton = () => screen.getByRole("button", { name: /^Donate / });

afterEach(cleanup);

describe("donate panel", () => {
  test("a double click sends one request, with one key", async () => {
    const { sent, receipts } = setup();
    fillGuest();
    const button = donateButton();
    fireEvent.click(button);
    fireEvent.click(button);
    // Even a submit that gets past the disabled button (Enter in a field) sends nothing more.
    fireEvent.submit(button.closest("form") as HTMLFormElement);
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]?.key).toBe("key-1");
    expect(sent[0]?.body).toMatchObject({
      amountMinor: 100_000,
      currency: "BDT",
      donor: { email: "rahim@example.org", name: "Rahim" },
      source: { bankAccountId: "acct_demo_1", accountSecret: "s3cret" },
    });
    sent[0]?.release(created("p-1"));
    await waitFor(() => expect(receipts.get("p-1")?.receiptToken).toBe("rt"));
    expect(sent).toHaveLength(1);
  });

  test("a retry of the same form reuses its key; a changed form gets a new one", async () => {
    const { sent } = setup();
    fillGuest();
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(1));
    sent[0]?.release(Response.json({ title: "Service unavailable", status: 503 }, { status: 503 }));
    await screen.findByText("Service unavailable");
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(2));
    expect(sent[1]?.key).toBe(sent[0]?.key as string);
    sent[1]?.release(
      new Response(
        JSON.stringify({ title: "Bad request", status: 400, errors: [{ path: "/message", message: "Too rude" }] }),
        {
          status: 400,
          headers: { "content-type": "application/problem+json" },
        },
      ),
    );
    await screen.findByText("Too rude");
    fireEvent.input(screen.getByLabelText("Amount"), { target: { value: "2500" } });
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(3));
    expect(sent[2]?.key).toBe("key-2");
    expect(sent[2]?.body.amountMinor).toBe(250_000);
  });

  test("invalid input is refused before sending, field by field", async () => {
    const { sent } = setup();
    fireEvent.input(screen.getByLabelText("Amount"), { target: { value: "12.345" } });
    fireEvent.click(screen.getByRole("button", { name: "Donate" }));
    expect(await screen.findByText(/Enter an amount in BDT/)).toBeTruthy();
    expect(screen.getByText("Your name, for the receipt")).toBeTruthy();
    expect(screen.getByText(/An email address/)).toBeTruthy();
    expect(screen.getByLabelText("Amount").getAttribute("aria-invalid")).toBe("true");
    expect(sent).toHaveLength(0);
  });

  test("a donor whose own account holds BDT is warned before giving to a USD campaign, and pays from a USD demo account", async () => {
    const { sent, calls } = setup({ currency: "USD", signedIn: { bankCurrency: "BDT" } });
    const warning = await screen.findByTestId("currency-warning");
    expect(warning.textContent).toContain("Your CareForAll account holds BDT, and this campaign collects USD");
    const own = screen.getByLabelText(/My CareForAll bank account/) as HTMLInputElement;
    expect(own.disabled).toBe(true);
    expect(own.checked).toBe(false);
    expect((screen.getByLabelText("A demo bank account") as HTMLInputElement).checked).toBe(true);
    // Sending now would be refused by the server (422): it is stopped here, with the way forward.
    fireEvent.click(donateButton());
    expect(await screen.findByText("Open a demo bank account first (one click)")).toBeTruthy();
    expect(sent).toHaveLength(0);
    fireEvent.click(screen.getByRole("button", { name: "Get a demo bank account in USD" }));
    expect((await screen.findByTestId("demo-account")).textContent).toContain("acct_demo_USD");
    expect(calls).toContain("POST /api/bank/demo-accounts");
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]?.body).toMatchObject({
      amountMinor: 2_500,
      currency: "USD",
      source: { bankAccountId: "acct_demo_USD", accountSecret: "usd-secret" },
    });
    expect(sent[0]?.body.donor).toBeUndefined();
  });

  test("a donor whose account holds the campaign's currency pays from it, with no warning", async () => {
    const { sent } = setup({ currency: "BDT", signedIn: { bankCurrency: "BDT" } });
    await screen.findByText("(BDT)");
    expect(screen.queryByTestId("currency-warning")).toBeNull();
    expect((screen.getByLabelText(/My CareForAll bank account/) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]?.body.source).toBeUndefined();
  });

  test("a campaign closed meanwhile: the refusal is said in words", async () => {
    const { sent } = setup();
    fillGuest();
    fireEvent.click(donateButton());
    await waitFor(() => expect(sent).toHaveLength(1));
    sent[0]?.release(
      new Response(
        JSON.stringify({
          type: "https://careforall.dev/problems/campaign-closed",
          title: "Conflict",
          status: 409,
          detail: "The campaign is closed and accepts no more pledges",
        }),
        { status: 409, headers: { "content-type": "application/problem+json" } },
      ),
    );
    expect(await screen.findByText("This campaign is closed and no longer takes donations.")).toBeTruthy();
    expect(screen.getByRole("alert").textContent).toContain("Nothing was charged.");
  });
});
