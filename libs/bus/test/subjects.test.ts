// Subject rules: the one filter a consumer gets on servers that take one per consumer.
import { describe, expect, test } from "bun:test";
import { coverPattern, typeMatches } from "@careforall/bus";

describe("coverPattern", () => {
  test("one type is its own cover", () => {
    expect(coverPattern(["pledge.created"])).toBe("pledge.created");
  });

  test("types of one family differ in their last token: family.*", () => {
    expect(coverPattern(["pledge.captured", "pledge.refunded"])).toBe("pledge.*");
    expect(coverPattern(["campaign.created", "campaign.updated", "campaign.totals_changed"])).toBe("campaign.*");
  });

  test("different families differ in the first token: nothing narrower than *.*", () => {
    expect(coverPattern(["user.registered", "campaign.created"])).toBe("*.*");
  });

  test("different lengths or a > end in >", () => {
    expect(coverPattern(["pledge.created", "pledge.created.v2"])).toBe("pledge.>");
    expect(coverPattern(["payment.>", "payment.captured"])).toBe("payment.>");
    expect(coverPattern(["a.b.c", "a.x"])).toBe("a.>");
    expect(coverPattern(["a.b", "c"])).toBe(">");
  });

  test("a wildcard token stays a wildcard", () => {
    expect(coverPattern(["payment.*", "payment.captured"])).toBe("payment.*");
  });

  test("the cover matches every type any of the patterns matches", () => {
    const cases: Array<[string[], string[]]> = [
      [
        ["pledge.captured", "pledge.refunded"],
        ["pledge.captured", "pledge.refunded"],
      ],
      [
        ["user.registered", "campaign.created"],
        ["user.registered", "campaign.created"],
      ],
      [
        ["a.b.c", "a.x"],
        ["a.b.c", "a.x"],
      ],
      [
        ["pledge.created", "pledge.created.v2"],
        ["pledge.created", "pledge.created.v2"],
      ],
      [
        ["a.b", "c"],
        ["a.b", "c"],
      ],
      [
        ["payment.*", "payment.captured"],
        ["payment.authorized", "payment.captured"],
      ],
    ];
    for (const [patterns, types] of cases) {
      const cover = coverPattern(patterns);
      for (const type of types) expect(typeMatches(cover, type)).toBe(true);
    }
  });

  test("no pattern has no cover", () => {
    expect(() => coverPattern([])).toThrow();
  });
});
