// The campaign form's rules (apps/web/src/lib/campaign-form.ts): what is refused before sending and
// in which words, the end day as the last second of that local day, and an edit sending only what changed.
import { describe, expect, test } from "bun:test";
import {
  type CampaignDraft,
  createBody,
  draftFrom,
  endOfDay,
  localDay,
  patchBody,
  validateCampaign,
} from "../src/lib/campaign-form";
import { canManage } from "../src/lib/can-manage";

const NOW = new Date(2030, 5, 15, 12, 0, 0);
const good: CampaignDraft = {
  title: "Clean water",
  description: "Wells for Sylhet",
  goalText: "5,000",
  currency: "BDT",
  endsOn: "",
};

describe("validateCampaign", () => {
  test("a good draft has no errors", () => {
    expect(validateCampaign(good, NOW)).toEqual({});
    expect(validateCampaign({ ...good, endsOn: "2030-06-16" }, NOW)).toEqual({});
  });

  test("each field's problem under the API's field name", () => {
    const errors = validateCampaign(
      { title: "  a ", description: "x".repeat(5001), goalText: "12.345", currency: "BDT", endsOn: "2030-06-14" },
      NOW,
    );
    expect(Object.keys(errors).sort()).toEqual(["description", "endsAt", "goalMinor", "title"]);
    expect(errors.title).toBe("A title of at least 3 characters");
    expect(errors.goalMinor).toContain("Enter the goal in BDT");
    expect(errors.endsAt).toBe("The end must be in the future");
  });

  test("the goal's bounds are said in the currency's own format", () => {
    expect(validateCampaign({ ...good, goalText: "0.99", currency: "USD" }, NOW).goalMinor).toBe(
      "The goal must be at least $1.00",
    );
    expect(validateCampaign({ ...good, goalText: "20000000000" }, NOW).goalMinor).toContain("at most");
    expect(validateCampaign({ ...good, goalText: "1" }, NOW)).toEqual({});
  });

  test("an impossible date is not a date; today ends tonight and is still in the future at noon", () => {
    expect(validateCampaign({ ...good, endsOn: "2030-02-30" }, NOW).endsAt).toBe("A date, like 2030-12-31");
    expect(validateCampaign({ ...good, endsOn: "2030-06-15" }, NOW)).toEqual({});
  });

  test("an edit may keep an end it already has", () => {
    const original = { ...createBody(good), endsAt: new Date(2030, 5, 15, 23, 59, 59).toISOString() };
    const draft = draftFrom(original);
    expect(draft.endsOn).toBe("2030-06-15");
    expect(validateCampaign(draft, new Date(2030, 5, 15, 23, 59, 59, 500), original)).toEqual({});
  });
});

describe("bodies", () => {
  test("create: trimmed text, minor units, the end of the chosen local day", () => {
    expect(createBody({ ...good, title: " Clean water ", goalText: "1,234.5", endsOn: "2030-12-31" })).toEqual({
      title: "Clean water",
      description: "Wells for Sylhet",
      goalMinor: 123_450,
      currency: "BDT",
      endsAt: endOfDay("2030-12-31") as string,
    });
    expect(new Date(endOfDay("2030-12-31") as string).getTime()).toBe(new Date(2030, 11, 31, 23, 59, 59).getTime());
    expect("endsAt" in createBody(good)).toBe(false);
  });

  test("patch: only what changed; clearing the end sends null", () => {
    const original = {
      title: "Clean water",
      description: "Wells for Sylhet",
      goalMinor: 500_000,
      currency: "BDT",
      endsAt: new Date(2031, 0, 1, 23, 59, 59).toISOString(),
    };
    const draft = draftFrom(original);
    expect(draft).toEqual({ ...good, goalText: "5000.00", endsOn: localDay(new Date(2031, 0, 1)) });
    expect(patchBody(draft, original)).toEqual({});
    expect(patchBody({ ...draft, goalText: "7500" }, original)).toEqual({ goalMinor: 750_000 });
    expect(patchBody({ ...draft, endsOn: "" }, original)).toEqual({ endsAt: null });
    expect(patchBody({ ...draft, title: "Clean water now", endsOn: "2031-02-01" }, original)).toEqual({
      title: "Clean water now",
      endsAt: endOfDay("2031-02-01"),
    });
  });
});

test("only a campaign's owner and admins may manage it", () => {
  const campaign = { ownerId: "u-owner" };
  expect(canManage({ id: "u-owner", role: "donor" }, campaign)).toBe(true);
  expect(canManage({ id: "u-admin", role: "admin" }, campaign)).toBe(true);
  expect(canManage({ id: "u-other", role: "donor" }, campaign)).toBe(false);
  expect(canManage(null, campaign)).toBe(false);
  expect(canManage({ id: "u-owner", role: "donor" }, undefined)).toBe(false);
});
