// The pure rules, exhaustively: room names, who reads and posts where (every room kind × every
// kind of viewer), and the text limit counted in code points.
import { describe, expect, test } from "bun:test";
import { canPost, canRead, codePoints, parseRoom, type Room, TEXT_MAX, textProblem, type Viewer } from "../src/domain";

const id = "01938f2e-6b1c-7c3e-9a4b-2f6d8e0a1b2c";
const other = "01938f2e-6b1c-7c3e-9a4b-2f6d8e0a1b2d";

describe("parseRoom", () => {
  test("campaign and support rooms with a canonical UUID", () => {
    expect(parseRoom(`campaign:${id}`)).toEqual({ kind: "campaign", name: `campaign:${id}`, campaignId: id });
    expect(parseRoom(`support:${id}`)).toEqual({ kind: "support", name: `support:${id}`, userId: id });
  });

  test("anything else is no room", () => {
    for (const name of [
      "",
      "campaign",
      `campaign:${id.toUpperCase()}`,
      `CAMPAIGN:${id}`,
      ` campaign:${id}`,
      `campaign:${id} `,
      `campaign:${id}\n`,
      `campaign:{${id}}`,
      `campaign:${id.slice(1)}`,
      `support:${id}:x`,
      `support::${id}`,
      `admin:${id}`,
      `campaign.${id}`,
      `campaign:${id}.x`,
    ])
      expect({ name, room: parseRoom(name) }).toEqual({ name, room: null });
  });
});

describe("access", () => {
  const campaign = parseRoom(`campaign:${id}`) as Room;
  const support = parseRoom(`support:${id}`) as Room;
  const owner: Viewer = { id, role: "donor" };
  const stranger: Viewer = { id: other, role: "donor" };
  const admin: Viewer = { id: other, role: "admin" };

  test("campaign rooms: everyone reads, every signed-in user posts", () => {
    for (const viewer of [null, owner, stranger, admin]) expect(canRead(campaign, viewer)).toBe(true);
    for (const poster of [owner, stranger, admin]) expect(canPost(campaign, poster)).toBe(true);
  });

  test("support rooms: their user and admins only", () => {
    expect([null, owner, stranger, admin].map((v) => canRead(support, v))).toEqual([false, true, false, true]);
    expect([owner, stranger, admin].map((v) => canPost(support, v))).toEqual([true, false, true]);
  });
});

describe("text", () => {
  test("counts code points, not UTF-16 units or bytes", () => {
    expect(codePoints("")).toBe(0);
    expect(codePoints("abc")).toBe(3);
    expect(codePoints("😀")).toBe(1);
    expect(codePoints("কূ")).toBe(2);
    expect(codePoints("👩‍👩‍👧")).toBe(5); // a ZWJ sequence: 3 people + 2 joiners
  });

  test(`1..${TEXT_MAX} code points fit`, () => {
    expect(textProblem("")).not.toBeNull();
    expect(textProblem("a")).toBeNull();
    expect(textProblem("😀".repeat(TEXT_MAX))).toBeNull();
    expect(textProblem("😀".repeat(TEXT_MAX + 1))).toContain(String(TEXT_MAX));
    expect(textProblem(" ")).toBeNull(); // API.md: 1..2000 characters, whatever they are
  });
});
