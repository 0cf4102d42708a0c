// Listing campaigns against real PostgreSQL: keyset pages newest first that together hold every
// campaign exactly once, the status filter, and title search with LIKE wildcards taken literally.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CampaignModel } from "../src/model";
import { type CampaignTestApp, errorPaths, expectProblem, startCampaignTestApp, user, validBody } from "./support";

let h: CampaignTestApp;
const alice = user("alice");
const TITLES = [
  "Save 100% of the trees",
  "Water_wells for Khulna",
  "Clean WATER in Sylhet",
  "School books",
  "Backslash \\ fund",
  "Waterwells (no underscore)",
  "Flood relief 2030",
];
const CLOSED = new Set(["School books", "Flood relief 2030", "Clean WATER in Sylhet"]);
/** Newest first, as the API orders them. */
let all: CampaignModel.Campaign[] = [];

beforeAll(async () => {
  h = await startCampaignTestApp();
  // Filler so the default page size (20) is exceeded; created first, so they are the oldest.
  const created: CampaignModel.Campaign[] = [];
  for (let i = 0; i < 16; i++) created.push(await create(`Filler campaign ${String(i).padStart(2, "0")}`));
  for (const title of TITLES) {
    const c = await create(title);
    if (CLOSED.has(title)) {
      const res = await h.call("POST", `/campaigns/${c.id}/close`, { as: alice });
      created.push((await res.json()) as CampaignModel.Campaign);
    } else created.push(c);
  }
  all = created.reverse();
});
afterAll(async () => {
  await h.stop();
});

async function create(title: string): Promise<CampaignModel.Campaign> {
  const res = await h.call("POST", "/campaigns", { as: alice, body: validBody({ title }) });
  expect(res.status).toBe(201);
  return (await res.json()) as CampaignModel.Campaign;
}

async function page(query: string): Promise<CampaignModel.CampaignPage> {
  const res = await h.call("GET", `/campaigns?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as CampaignModel.CampaignPage;
}

/** Follows nextCursor to the end; returns every item in order and the page count. */
async function walk(params: Record<string, string>) {
  const items: CampaignModel.Campaign[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const qs = new URLSearchParams({ ...params, ...(cursor ? { cursor } : {}) });
    const p = await page(qs.toString());
    items.push(...p.items);
    cursor = p.nextCursor;
    pages++;
    expect(pages).toBeLessThan(100);
  } while (cursor);
  return { items, pages };
}

const titles = (items: CampaignModel.Campaign[]) => items.map((c) => c.title);

describe("pagination", () => {
  test("limit 2 walks every campaign exactly once, newest first", async () => {
    const { items, pages } = await walk({ limit: "2" });
    expect(items.map((c) => c.id)).toEqual(all.map((c) => c.id));
    expect(new Set(items.map((c) => c.id)).size).toBe(all.length);
    expect(pages).toBe(Math.ceil(all.length / 2));
    expect(items).toEqual(all);
  });

  test("the default page holds 20 and the last page has a null cursor", async () => {
    const first = await page("");
    expect(first.items).toHaveLength(20);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await page(`cursor=${first.nextCursor}`);
    expect(second.items.map((c) => c.id)).toEqual(all.slice(20).map((c) => c.id));
    expect(second.nextCursor).toBeNull();
  });

  test("a page that ends exactly at the last campaign has a null cursor", async () => {
    const p = await page(`limit=${all.length}`);
    expect(p.items).toHaveLength(all.length);
    expect(p.nextCursor).toBeNull();
  });

  test("limit 0 and 101 → 400 naming limit; 1 and 100 are fine", async () => {
    for (const limit of ["0", "101", "-1", "abc", "2.5"]) {
      expect(errorPaths(await expectProblem(await h.call("GET", `/campaigns?limit=${limit}`), 400))).toEqual(["limit"]);
    }
    expect((await page("limit=1")).items).toHaveLength(1);
    expect((await page("limit=100")).items).toHaveLength(all.length);
  });

  test("a garbage cursor → 400 naming cursor", async () => {
    for (const cursor of ["garbage", Buffer.from('["not-a-uuid"]').toString("base64url"), "x".repeat(201)]) {
      const problem = await expectProblem(await h.call("GET", `/campaigns?cursor=${cursor}`), 400);
      expect(errorPaths(problem)).toEqual(["cursor"]);
    }
  });
});

describe("filters", () => {
  test("status=closed walks exactly the closed campaigns", async () => {
    const { items } = await walk({ status: "closed", limit: "2" });
    expect(titles(items).sort()).toEqual([...CLOSED].sort());
    expect(items.every((c) => c.status === "closed")).toBe(true);
  });

  test("status=active walks exactly the active campaigns", async () => {
    const { items } = await walk({ status: "active", limit: "2" });
    expect(items.map((c) => c.id)).toEqual(all.filter((c) => c.status === "active").map((c) => c.id));
  });

  test("an unknown status → 400", async () => {
    expect(errorPaths(await expectProblem(await h.call("GET", "/campaigns?status=open"), 400))).toEqual(["status"]);
  });

  test("q matches a case-insensitive substring of the title", async () => {
    expect(titles((await walk({ q: "water", limit: "2" })).items)).toEqual([
      "Waterwells (no underscore)",
      "Clean WATER in Sylhet",
      "Water_wells for Khulna",
    ]);
    expect(titles((await walk({ q: "sYLHET" })).items)).toEqual(["Clean WATER in Sylhet"]);
    expect((await page("q=nothing-like-this")).items).toEqual([]);
  });

  test("% and _ in q match literally, not as wildcards", async () => {
    expect(titles((await page(`q=${encodeURIComponent("100%")}`)).items)).toEqual(["Save 100% of the trees"]);
    expect(titles((await page(`q=${encodeURIComponent("%")}`)).items)).toEqual(["Save 100% of the trees"]);
    expect(titles((await page("q=r_w")).items)).toEqual(["Water_wells for Khulna"]);
    expect(titles((await page("q=_")).items)).toEqual(["Water_wells for Khulna"]);
    expect(titles((await page(`q=${encodeURIComponent("\\")}`)).items)).toEqual(["Backslash \\ fund"]);
  });

  test("q and status combine", async () => {
    expect(titles((await walk({ q: "water", status: "closed", limit: "1" })).items)).toEqual(["Clean WATER in Sylhet"]);
    expect(titles((await walk({ q: "water", status: "active", limit: "1" })).items)).toEqual([
      "Waterwells (no underscore)",
      "Water_wells for Khulna",
    ]);
  });

  test("an empty or over-long q → 400", async () => {
    expect(errorPaths(await expectProblem(await h.call("GET", "/campaigns?q="), 400))).toEqual(["q"]);
    expect(errorPaths(await expectProblem(await h.call("GET", `/campaigns?q=${"a".repeat(121)}`), 400))).toEqual(["q"]);
  });
});

describe("an owner's own campaigns (GET /campaigns/mine)", () => {
  test("only the caller's, newest first, in every status unless one is asked for; paged; anonymous → 401", async () => {
    const bob = user("bob");
    const mine: CampaignModel.Campaign[] = [];
    for (const title of ["Bob's first", "Bob's second", "Bob's third"]) {
      const res = await h.call("POST", "/campaigns", { as: bob, body: validBody({ title }) });
      mine.unshift((await res.json()) as CampaignModel.Campaign);
    }
    await h.call("POST", `/campaigns/${mine[2]?.id}/close`, { as: bob });
    const read = async (query: string, as = bob) => {
      const res = await h.call("GET", `/campaigns/mine?${query}`, { as });
      expect(res.status).toBe(200);
      return (await res.json()) as CampaignModel.CampaignPage;
    };
    const all = await read("");
    expect(titles(all.items)).toEqual(["Bob's third", "Bob's second", "Bob's first"]);
    expect(all.items.every((c) => c.ownerId === bob.id)).toBe(true);
    expect(titles((await read("status=closed")).items)).toEqual(["Bob's first"]);
    const first = await read("limit=2");
    expect(first.items).toHaveLength(2);
    const second = await read(`limit=2&cursor=${first.nextCursor}`);
    expect(titles(second.items)).toEqual(["Bob's first"]);
    expect(second.nextCursor).toBeNull();
    // Alice's 23 are not Bob's, and a user with none gets an empty page.
    expect((await read("", user("carol"))).items).toEqual([]);
    expect((await h.call("GET", "/campaigns/mine")).status).toBe(401);
  });
});
