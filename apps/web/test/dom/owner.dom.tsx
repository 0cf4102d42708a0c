// A campaign owner's screens in a DOM: the start form refuses bad input field by field before sending
// (and focuses the first bad field), shows the goal in the chosen currency's format as it is typed,
// sends minor units, and shows the server's problems next to their fields; the edit form sends only
// what changed; closing asks first, and "Keep it open" sends nothing.
import { afterEach, describe, expect, test } from "bun:test";
import { createMemoryHistory, MemoryRouter, Route } from "@solidjs/router";
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createApi } from "../../src/api/client";
import { type AppServices, Services } from "../../src/context";
import { createReceipts } from "../../src/lib/receipts";
import { memoryStorage } from "../../src/lib/storage";
import OwnerActions from "../../src/pages/owner/actions";
import EditCampaign from "../../src/pages/owner/edit";
import StartCampaign from "../../src/pages/owner/start";
import { createRealtime } from "../../src/realtime/socket";

const OWNER = {
  id: "0193e3f0-0000-7000-8000-0000000000aa",
  email: "o@example.org",
  name: "Olive",
  role: "donor" as const,
  bankAccountId: null,
};
const CAMPAIGN = {
  id: "0193e3f0-0000-7000-8000-000000000001",
  ownerId: OWNER.id,
  title: "Clean water",
  description: "Wells for Sylhet",
  goalMinor: 500_000,
  currency: "BDT",
  status: "active" as const,
  raisedMinor: 12_300,
  donorCount: 1,
  pledgeCount: 1,
  endsAt: null,
  createdAt: "2030-01-01T00:00:00Z",
  updatedAt: "2030-01-01T00:00:00Z",
  version: 1,
};

interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** A gateway stand-in: `answer` decides each call's response; every call is recorded. */
function setup(path: string, answer: (call: Call) => Response) {
  const calls: Call[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const call = {
      method: init?.method ?? "GET",
      path: url.pathname,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    return answer(call);
  }) as typeof globalThis.fetch;
  const storage = memoryStorage();
  const api = createApi({ baseUrl: "http://localhost:3000", fetch, storage });
  api.session.adopt({ user: OWNER, accessToken: "access", refreshToken: "refresh", expiresIn: 900 });
  const services: AppServices = {
    api,
    realtime: createRealtime({ url: "ws://x/api/ws", token: async () => null, connect: () => ({}) as never }),
    receipts: createReceipts(storage),
    newKey: () => "key",
  };
  const changed: unknown[] = [];
  const history = createMemoryHistory();
  history.set({ value: path, replace: true });
  render(() => (
    <Services.Provider value={services}>
      <MemoryRouter history={history}>
        <Route path="/campaigns/new" component={StartCampaign} />
        <Route path="/campaigns/:id/edit" component={EditCampaign} />
        <Route
          path="/campaigns/:id"
          component={() => <OwnerActions campaign={CAMPAIGN} onChange={(c) => changed.push(c)} />}
        />
      </MemoryRouter>
    </Services.Provider>
  ));
  return { calls, changed, writes: () => calls.filter((c) => c.method !== "GET") };
}

const problem = (status: number, body: object) =>
  new Response(JSON.stringify({ status, ...body }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

afterEach(cleanup);

describe("start a campaign", () => {
  test("bad input is refused before sending, field by field, and the first bad field has the focus", async () => {
    const { writes } = setup("/campaigns/new", () => Response.json({}, { status: 404 }));
    fireEvent.input(await screen.findByLabelText("Title"), { target: { value: "ab" } });
    fireEvent.input(screen.getByLabelText("Goal (BDT)"), { target: { value: "12.345" } });
    fireEvent.input(screen.getByLabelText("Ends on (optional)"), { target: { value: "2001-01-01" } });
    fireEvent.click(screen.getByRole("button", { name: "Start the campaign" }));
    expect(await screen.findByText("A title of at least 3 characters")).toBeTruthy();
    expect(screen.getByText(/Enter the goal in BDT/)).toBeTruthy();
    expect(screen.getByText("The end must be in the future")).toBeTruthy();
    expect(screen.getByLabelText("Title").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Goal (BDT)").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText("Story").getAttribute("aria-invalid")).toBeNull();
    expect(document.activeElement?.id).toBe("campaign-title");
    expect(writes()).toEqual([]);
    // Fixing a field clears its own message, not the others'.
    fireEvent.input(screen.getByLabelText("Title"), { target: { value: "Books for Bhola" } });
    expect(screen.queryByText("A title of at least 3 characters")).toBeNull();
    expect(screen.getByLabelText("Title").getAttribute("aria-invalid")).toBeNull();
    expect(screen.getByText(/Enter the goal in BDT/)).toBeTruthy();
  });

  test("the goal is shown in the chosen currency's format; minor units are sent; server problems land on their fields", async () => {
    const { writes } = setup("/campaigns/new", (call) =>
      call.method === "POST"
        ? problem(400, {
            title: "Invalid request",
            detail: "title: Expected a string matching \\S",
            errors: [{ path: "/title", message: "Must contain a visible character" }],
          })
        : Response.json({}, { status: 404 }),
    );
    fireEvent.input(await screen.findByLabelText("Title"), { target: { value: "School books" } });
    fireEvent.input(screen.getByLabelText("Story"), { target: { value: "For the village school" } });
    fireEvent.change(screen.getByLabelText("Currency"), { target: { value: "USD" } });
    fireEvent.input(screen.getByLabelText("Goal (USD)"), { target: { value: "1,250.5" } });
    expect(screen.getByTestId("goal-preview").textContent).toBe("$1,250.50");
    fireEvent.click(screen.getByRole("button", { name: "Start the campaign" }));
    await waitFor(() => expect(writes()).toHaveLength(1));
    expect(writes()[0]).toEqual({
      method: "POST",
      path: "/api/campaigns",
      body: { title: "School books", description: "For the village school", goalMinor: 125_050, currency: "USD" },
    });
    expect(await screen.findByText("Must contain a visible character")).toBeTruthy();
    expect(screen.getByLabelText("Title").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByRole("alert").textContent).toContain("Invalid request");
  });
});

describe("edit a campaign", () => {
  test("prefilled, the currency fixed, and only the changed goal is sent", async () => {
    const { writes } = setup(`/campaigns/${CAMPAIGN.id}/edit`, (call) =>
      call.method === "GET" ? Response.json(CAMPAIGN) : Response.json({ ...CAMPAIGN, goalMinor: 750_000 }),
    );
    const goal = (await screen.findByLabelText("Goal (BDT)")) as HTMLInputElement;
    expect(goal.value).toBe("5000.00");
    expect((screen.getByLabelText("Title") as HTMLInputElement).value).toBe("Clean water");
    expect(screen.queryByLabelText("Currency")).toBeNull();
    expect(screen.getByTestId("currency").textContent).toContain("BDT");
    fireEvent.input(goal, { target: { value: "7,500" } });
    fireEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(writes()).toHaveLength(1));
    expect(writes()[0]).toEqual({
      method: "PATCH",
      path: `/api/campaigns/${CAMPAIGN.id}`,
      body: { goalMinor: 750_000 },
    });
  });
});

describe("close a campaign", () => {
  test("asks first: keeping it open sends nothing; confirming closes it", async () => {
    const { writes, changed } = setup(`/campaigns/${CAMPAIGN.id}`, () =>
      Response.json({ ...CAMPAIGN, status: "closed" }),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Close the campaign" }));
    expect(await screen.findByText("Close “Clean water”?")).toBeTruthy();
    expect(document.activeElement?.textContent).toBe("Keep it open");
    fireEvent.click(screen.getByRole("button", { name: "Keep it open" }));
    await waitFor(() => expect(screen.queryByText("Close “Clean water”?")).toBeNull());
    expect(writes()).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Close the campaign" }));
    fireEvent.click(await screen.findByRole("button", { name: "Close it" }));
    await waitFor(() => expect(changed).toHaveLength(1));
    expect(writes()).toEqual([{ method: "POST", path: `/api/campaigns/${CAMPAIGN.id}/close`, body: undefined }]);
    expect((changed[0] as { status: string }).status).toBe("closed");
  });
});
