// Bad input on every route is refused with a 400 (413 for oversized bodies) problem naming the
// field, and never reaches the database: no campaign row, no outbox event.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { campaigns, outbox } from "../src/db/schema";
import type { CampaignModel } from "../src/model";
import { type CampaignTestApp, errorPaths, expectProblem, startCampaignTestApp, user, validBody } from "./support";

let h: CampaignTestApp;
let existing: CampaignModel.Campaign;
const alice = user("alice");
const BIG = 100 * 1024;

beforeAll(async () => {
  h = await startCampaignTestApp();
  existing = (await (
    await h.call("POST", "/campaigns", { as: alice, body: validBody() })
  ).json()) as CampaignModel.Campaign;
});
afterAll(async () => {
  await h.stop();
});

async function counts() {
  const [c] = await h.db.select({ n: sql<number>`count(*)::int` }).from(campaigns);
  const [o] = await h.db.select({ n: sql<number>`count(*)::int` }).from(outbox);
  return { campaigns: c!.n, events: o!.n };
}

const future = (ms = 86_400_000) => new Date(h.clock.now() + ms).toISOString();
const post = (body: unknown, headers?: Record<string, string>) =>
  h.call("POST", "/campaigns", { as: alice, body, ...(headers ? { headers } : {}) });
const patch = (body: unknown, id = existing.id, headers?: Record<string, string>) =>
  h.call("PATCH", `/campaigns/${id}`, { as: alice, body, ...(headers ? { headers } : {}) });

describe("POST /campaigns", () => {
  test("missing fields → 400 naming each one", async () => {
    const problem = await expectProblem(await post({}), 400);
    expect(errorPaths(problem).sort()).toEqual(["currency", "description", "goalMinor", "title"]);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["goalMinor as a numeric string", { goalMinor: "500" }, "goalMinor"],
    ["goalMinor 99", { goalMinor: 99 }, "goalMinor"],
    ["goalMinor above 1e12", { goalMinor: 1_000_000_000_001 }, "goalMinor"],
    ["goalMinor as a fraction", { goalMinor: 150.5 }, "goalMinor"],
    ["goalMinor null", { goalMinor: null }, "goalMinor"],
    ["title of 2 characters", { title: "ab" }, "title"],
    ["title of 121 characters", { title: "t".repeat(121) }, "title"],
    ["title of only spaces", { title: "     " }, "title"],
    ["title as a number", { title: 12345 }, "title"],
    ["description of 5001 characters", { description: "d".repeat(5001) }, "description"],
    ["unknown currency", { currency: "GBP" }, "currency"],
    ["lower-case currency", { currency: "bdt" }, "currency"],
    ["endsAt not a date", { endsAt: "next tuesday" }, "endsAt"],
    ["endsAt as a bare date", { endsAt: "2099-01-01" }, "endsAt"],
    ["endsAt without an offset", { endsAt: "2099-01-01T00:00:00" }, "endsAt"],
    ["endsAt on 30 February", { endsAt: "2099-02-30T00:00:00Z" }, "endsAt"],
    ["endsAt as a number", { endsAt: 4_102_444_800_000 }, "endsAt"],
    ["endsAt in the past", { endsAt: "2001-01-01T00:00:00Z" }, "endsAt"],
  ];
  test.each(invalid)("%s → 400", async (_, override, path) => {
    const before = await counts();
    const problem = await expectProblem(await post(validBody(override)), 400);
    expect(errorPaths(problem)).toContain(path);
    expect(await counts()).toEqual(before);
  });

  test("endsAt equal to now → 400; one millisecond later is accepted", async () => {
    await expectProblem(await post(validBody({ endsAt: h.clock.date().toISOString() })), 400);
    expect((await post(validBody({ endsAt: future(1) }))).status).toBe(201);
  });

  test("the boundaries themselves are accepted", async () => {
    for (const override of [
      { goalMinor: 100 },
      { goalMinor: 1_000_000_000_000 },
      { title: "abc" },
      { title: "t".repeat(120) },
      { description: "" },
      { description: "d".repeat(5000) },
      { currency: "USD" },
      { currency: "EUR" },
      { endsAt: future() },
    ]) {
      const res = await post(validBody(override));
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject(override);
    }
  });

  test("malformed JSON → 400", async () => {
    const problem = await expectProblem(await post('{"title": "Clean water",'), 400);
    expect(problem.type).toContain("malformed-body");
  });

  test("a body that is not an object → 400", async () => {
    await expectProblem(await post("[1,2,3]"), 400);
    await expectProblem(await post("null"), 400);
    await expectProblem(await post('"a string"'), 400);
  });

  test("no body at all → 400", async () => {
    await expectProblem(await h.call("POST", "/campaigns", { as: alice }), 400);
  });

  test("a form-encoded body → 400 (JSON only)", async () => {
    const res = await post("title=Clean+water&description=x&goalMinor=500&currency=BDT", {
      "content-type": "application/x-www-form-urlencoded",
    });
    await expectProblem(res, 400);
  });

  test("a 100 KiB body → 413 and nothing is written", async () => {
    const before = await counts();
    await expectProblem(await post(validBody({ description: "d".repeat(BIG) })), 413);
    expect(await counts()).toEqual(before);
  });

  test("fields we do not know are ignored, never stored", async () => {
    const res = await post(validBody({ ownerId: Bun.randomUUIDv7(), raisedMinor: 999, status: "closed", version: 7 }));
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ ownerId: alice.id, raisedMinor: 0, status: "active", version: 1 });
  });
});

describe("PATCH /campaigns/:id", () => {
  test("an empty body → 400", async () => {
    await expectProblem(await patch({}), 400);
  });

  test("a body with only fields that cannot be patched → 400", async () => {
    await expectProblem(await patch({ status: "closed", raisedMinor: 5, ownerId: Bun.randomUUIDv7() }), 400);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ["goalMinor as a numeric string", { goalMinor: "500" }, "goalMinor"],
    ["goalMinor 99", { goalMinor: 99 }, "goalMinor"],
    ["title too short", { title: "ab" }, "title"],
    ["title too long", { title: "t".repeat(121) }, "title"],
    ["title null", { title: null }, "title"],
    ["description too long", { description: "d".repeat(5001) }, "description"],
    ["endsAt not a date", { endsAt: "soon" }, "endsAt"],
    ["endsAt in the past", { endsAt: "2001-01-01T00:00:00Z" }, "endsAt"],
  ];
  test.each(invalid)("%s → 400 and the campaign is unchanged", async (_, body, path) => {
    const before = await counts();
    expect(errorPaths(await expectProblem(await patch(body), 400))).toContain(path);
    expect(await counts()).toEqual(before);
    expect(await (await h.call("GET", `/campaigns/${existing.id}`)).json()).toEqual(existing);
  });

  test("currency cannot be changed: it is ignored, and alone it is an empty patch", async () => {
    await expectProblem(await patch({ currency: "USD" }), 400);
  });

  test("malformed JSON → 400; 100 KiB → 413", async () => {
    await expectProblem(await patch("{not json"), 400);
    await expectProblem(await patch({ description: "d".repeat(BIG) }), 413);
  });

  test("an invalid id → 400 before anything else", async () => {
    expect(errorPaths(await expectProblem(await patch({ title: "Valid title" }, "nope"), 400))).toContain("id");
  });
});

describe("other routes", () => {
  test("GET /campaigns/:id and POST /campaigns/:id/close refuse invalid ids", async () => {
    for (const id of ["nope", "123", `${existing.id}x`]) {
      expect(errorPaths(await expectProblem(await h.call("GET", `/campaigns/${id}`), 400))).toEqual(["id"]);
      await expectProblem(await h.call("POST", `/campaigns/${id}/close`, { as: alice }), 400);
    }
  });

  test("unsupported methods → 404 problem", async () => {
    await expectProblem(await h.call("DELETE", `/campaigns/${existing.id}`, { as: alice }), 404);
  });
});
