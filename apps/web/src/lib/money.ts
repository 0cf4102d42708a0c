// Money on screen: integer minor units in, Intl.NumberFormat out, and the reverse for what a donor
// types. No floats: the decimal string is built from the integer, and a typed amount is parsed digit by digit.

/** How many minor digits a currency has (BDT, USD, EUR: 2; JPY: 0), as Intl knows it. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** "12345" minor units of USD → "123.45": exact for any integer (Intl formats decimal strings exactly). */
export function toDecimalString(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = minor < 0 ? "-" : "";
  const text = String(Math.abs(Math.trunc(minor))).padStart(digits + 1, "0");
  return digits === 0 ? `${sign}${text}` : `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

export interface FormatOptions {
  locale?: string;
  /** Drop ".00" on whole amounts (preset buttons). */
  compact?: boolean;
}

export function formatMoney(minor: number, currency: string, options: FormatOptions = {}): string {
  const digits = minorDigits(currency);
  const whole = minor % 10 ** digits === 0;
  const fraction = options.compact && whole ? 0 : digits;
  const format = new Intl.NumberFormat(options.locale, {
    style: "currency",
    currency,
    minimumFractionDigits: fraction,
    maximumFractionDigits: digits,
  });
  // format() takes a decimal string exactly (Intl.NumberFormat v3); typed as number in older libs.
  return format.format(toDecimalString(minor, currency) as unknown as number);
}

/**
 * What a donor typed ("1,500", "20.5", "৳ 100") → minor units, or null when it is not an amount in this
 * currency (too many decimals, letters, nothing). Thousands separators and currency signs are ignored.
 */
export function parseAmount(input: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const cleaned = input.replace(/[\s,_]/g, "").replace(/^[^\d.-]+/, "");
  const match = /^(\d{1,12})(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
  return Number.isSafeInteger(minor) ? minor : null;
}

/** The goal bar's width in percent, 0..100 (over-funded campaigns stay full). */
export function progressPercent(raisedMinor: number, goalMinor: number): number {
  if (goalMinor <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((raisedMinor * 100) / goalMinor)));
}
