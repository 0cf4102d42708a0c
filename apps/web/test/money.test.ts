// Money formatting and parsing: integer minor units to Intl text per currency (BDT, USD, EUR) and
// typed amounts back to minor units, exactly (no float drift on large or cent-level amounts).
import { describe, expect, test } from "bun:test";
import { formatMoney, minorDigits, parseAmount, progressPercent, toDecimalString } from "../src/lib/money";

// Intl output uses narrow/no-break spaces in some locales: compare with them normalised.
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("formatMoney", () => {
  test("BDT, USD and EUR in their own symbols and grouping", () => {
    expect(plain(formatMoney(123_456, "BDT", { locale: "en-US" }))).toBe("BDT 1,234.56");
    expect(plain(formatMoney(123_456, "BDT", { locale: "bn-BD" }))).toBe("১,২৩৪.৫৬৳");
    expect(formatMoney(123_456, "USD", { locale: "en-US" })).toBe("$1,234.56");
    expect(plain(formatMoney(123_456, "EUR", { locale: "de-DE" }))).toBe("1.234,56 €");
    expect(formatMoney(5, "EUR", { locale: "en-IE" })).toBe("€0.05");
  });

  test("exact for large amounts (built from the integer, never from a float)", () => {
    expect(formatMoney(100_000_000_01, "USD", { locale: "en-US" })).toBe("$100,000,000.01");
    expect(formatMoney(2 ** 53 - 1, "USD", { locale: "en-US" })).toBe("$90,071,992,547,409.91");
  });

  test("compact drops .00 on whole amounts only", () => {
    expect(formatMoney(50_000, "USD", { locale: "en-US", compact: true })).toBe("$500");
    expect(formatMoney(50_050, "USD", { locale: "en-US", compact: true })).toBe("$500.50");
  });

  test("negative amounts and zero", () => {
    expect(formatMoney(-150, "USD", { locale: "en-US" })).toBe("-$1.50");
    expect(formatMoney(0, "USD", { locale: "en-US" })).toBe("$0.00");
  });
});

describe("parseAmount", () => {
  test("typed amounts become minor units", () => {
    expect(parseAmount("1234.5", "BDT")).toBe(123_450);
    expect(parseAmount("1,234.56", "USD")).toBe(123_456);
    expect(parseAmount(" 20 ", "EUR")).toBe(2_000);
    expect(parseAmount("৳500", "BDT")).toBe(50_000);
    expect(parseAmount("0.29", "USD")).toBe(29); // 0.29 * 100 is 28.999… as a float
    expect(parseAmount("5.", "USD")).toBe(500);
  });

  test("what is not an amount in this currency is null", () => {
    for (const bad of ["", "abc", "1.234", "-5", "1e3", "12.3.4", "1234567890123"])
      expect(parseAmount(bad, "USD")).toBeNull();
    // A zero-decimal currency takes no fraction.
    expect(minorDigits("JPY")).toBe(0);
    expect(parseAmount("10.5", "JPY")).toBeNull();
    expect(parseAmount("10", "JPY")).toBe(10);
  });

  test("round trip through the decimal string", () => {
    for (const minor of [0, 1, 99, 100, 123_456, 100_000_000])
      expect(parseAmount(toDecimalString(minor, "BDT"), "BDT")).toBe(minor);
  });
});

test("progressPercent is whole percent, capped at 100", () => {
  expect(progressPercent(0, 1000)).toBe(0);
  expect(progressPercent(999, 1000)).toBe(99);
  expect(progressPercent(5000, 1000)).toBe(100);
  expect(progressPercent(10, 0)).toBe(0);
});
