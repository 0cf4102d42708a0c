// A hung PostgreSQL — the connection open, nothing answered — must not hang donors (issue 13).
// Played here by a transaction holding an exclusive lock on the pledges table: every accept
// statement then waits on it, exactly as it would on a server that stopped answering.
// - An accept past ACCEPT_DEADLINE_MS is answered 503 problem+json with Retry-After. One still
//   queued behind the hung statement is dropped, never sent; the hung one may still commit.
// - After 3 such failures in a row the breaker refuses accepts at once, for DATABASE_RETRY_MS
//   (its Retry-After says so: 3 s here, against the deadline's 2 s).
// - Once the database answers, retries with the same keys find what happened: the late commit is
//   replayed (one pledge, not two), the dropped request is accepted as new.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@careforall/testkit";
import { eq, sql } from "drizzle-orm";
import { pledges } from "../src/db/schema";
import type { PledgeModel } from "../src/model";
import { type PledgeTestApp, startPledgeTestApp } from "./support";

let h: PledgeTestApp;
let campaignId: string;
const source = { bankAccountId: `acct_hung_${Bun.randomUUIDv7()}`, accountSecret: "hung-secret" };

beforeAll(async () => {
  // One write slot: the first accept holds it while the database hangs; later ones queue.
  h = await startPledgeTestApp({
    cacheGrants: true,
    accept: { concurrency: 1, deadlineMs: 300, databaseRetryMs: 3_000 },
  });
  campaignId = (await h.campaign()).id;
  h.bank.open(source.bankAccountId, source.accountSecret);
});
afterAll(async () => {
  await h.stop();
});

const donate = (key: string) =>
  h.call("POST", `/campaigns/${campaignId}/pledges`, {
    body: {
      amountMinor: 1_500,
      currency: "BDT",
      donor: { email: `${key}@example.test`, name: "রহিম উদ্দিন" },
      source,
    },
    headers: { "idempotency-key": key },
  });

/** Holds an exclusive lock on the pledges table until the returned function is called. */
async function hangPledges(): Promise<() => Promise<void>> {
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  let held = false;
  const holder = h.db.transaction(async (tx) => {
    await tx.execute(sql`lock table ${pledges} in access exclusive mode`);
    held = true;
    await released;
  });
  await waitFor(() => held, { what: "the lock on pledges" });
  return async () => {
    release();
    await holder;
  };
}

describe("PostgreSQL hung under the accepts", () => {
  test("503 at the deadline, then refused at once by the breaker; afterwards the same keys find what happened", async () => {
    const warm = await donate(`warm-${Bun.randomUUIDv7()}`); // caches the source's grant
    expect(warm.status).toBe(202);

    const release = await hangPledges();
    const keys = [1, 2, 3, 4].map((i) => `hung-${i}-${Bun.randomUUIDv7()}`);
    const answers: Response[] = [];
    for (const key of keys) answers.push(await donate(key));
    await release();

    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.headers.get("content-type")).toContain("application/problem+json");
      expect(await a.json()).toMatchObject({ status: 503, title: "Service unavailable" });
    }
    // The first three waited for the deadline; the fourth was refused by the open breaker.
    expect(answers.map((a) => a.headers.get("retry-after"))).toEqual(["2", "2", "2", "3"]);

    // The hung statement (key 1) committed once the lock was gone: its retry is a replay.
    const [late, dropped] = [keys[0]!, keys[1]!];
    let replay: Response | undefined;
    await waitFor(
      async () => {
        replay = await donate(late);
        return replay.status === 202;
      },
      { what: "the breaker to let accepts through again", timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(replay!.headers.get("idempotent-replayed")).toBe("true");
    const pledge = (await replay!.json()) as PledgeModel.Pledge;
    const rows = await h.db.select({ id: pledges.id }).from(pledges).where(eq(pledges.id, pledge.id));
    expect(rows).toHaveLength(1);

    // Key 2 waited in the queue and was dropped at its deadline, never sent: now it is new.
    const fresh = await donate(dropped);
    expect(fresh.status).toBe(202);
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
  }, 30_000);
});
