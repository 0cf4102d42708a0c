// Guests' donor keys (issue 8): a keyed, domain-separated HMAC of the normalised email, so neither
// the donor key in events and campaign totals nor the idempotency scope can be recomputed from a
// guessed address (a bare sha256(email) could). Checked on the function and on what the pledge
// service really stores and publishes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { eq } from "drizzle-orm";
import { idempotencyKeys, pledges } from "../src/db/schema";
import { donorIdentity, guestDonorKey, sha256Hex } from "../src/domain";
import { type PledgeTestApp, startPledgeTestApp, TEST_DONOR_KEY_SECRET } from "./support";

const email = "Rahima.Guest@Example.TEST";

describe("guestDonorKey", () => {
  test("is HMAC-SHA256 under the secret, domain-separated, of the normalised email", () => {
    const key = guestDonorKey(email, "secret-one-0123456789");
    expect(key).toMatch(/^guest:[0-9a-f]{64}$/);
    const expected = createHmac("sha256", "secret-one-0123456789")
      .update("careforall/pledge/guest-donor-key/v1\nrahima.guest@example.test")
      .digest("hex");
    expect(key).toBe(`guest:${expected}`);
    expect(guestDonorKey("  rahima.guest@example.test ", "secret-one-0123456789")).toBe(key);
  });

  test("is not the bare hash of the email, nor an undomained HMAC, and depends on the secret", () => {
    const key = guestDonorKey(email, "secret-one-0123456789");
    const normalised = "rahima.guest@example.test";
    expect(key).not.toBe(`guest:${sha256Hex(normalised)}`);
    expect(key).not.toBe(`guest:${createHmac("sha256", "secret-one-0123456789").update(normalised).digest("hex")}`);
    expect(guestDonorKey(email, "secret-two-0123456789")).not.toBe(key);
    expect(() => guestDonorKey(email, "")).toThrow();
  });

  test("donorIdentity uses it for both the donor key and the idempotency scope", () => {
    const identity = donorIdentity({ guestEmail: email }, "secret-one-0123456789");
    expect(identity).toEqual({ scope: guestDonorKey(email, "secret-one-0123456789"), donorKey: identity.scope });
  });
});

describe("what the pledge service stores and publishes for a guest", () => {
  let h: PledgeTestApp;
  beforeAll(async () => {
    h = await startPledgeTestApp();
  });
  afterAll(() => h.stop());

  test("the idempotency scope, the pledge's donor key and pledge.captured's donorKey are the keyed HMAC, never sha256(email)", async () => {
    const campaign = await h.campaign();
    const source = h.bank.open(`acct_donor_key_${Bun.randomUUIDv7()}`, "donor-key-secret");
    const res = await h.call("POST", `/campaigns/${campaign.id}/pledges`, {
      headers: { "idempotency-key": `donor-key-${Bun.randomUUIDv7()}` },
      body: { amountMinor: 500, currency: "BDT", donor: { email, name: "Rahima" }, source },
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const expected = guestDonorKey(email, TEST_DONOR_KEY_SECRET);
    const bare = `guest:${sha256Hex("rahima.guest@example.test")}`;

    const keys = await h.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scope, expected));
    expect(keys.length).toBe(1);
    expect(await h.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.scope, bare))).toEqual([]);

    const [row] = await h.db.select().from(pledges).where(eq(pledges.id, id));
    expect(row!.donorKey).toBe(expected);
    expect(JSON.stringify(row)).not.toContain(bare.slice("guest:".length));

    // Campaign counts distinct donors by the donorKey of pledge.captured.
    await h.payment("payment.captured", { id, amountMinor: 500, currency: "BDT" });
    const captured = (await h.eventsFor(id)).find((e) => e.type === "pledge.captured");
    expect(captured?.data.donorKey).toBe(expected);
  });
});
