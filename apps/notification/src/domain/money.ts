// Amounts as people read them: integer minor units formatted for their currency ("BDT 2,500.00",
// "$12.50"), without ever going through a float (the decimal string is built from integers).
const formatters = new Map<string, Intl.NumberFormat>();

function formatterFor(currency: string): Intl.NumberFormat {
  let f = formatters.get(currency);
  if (!f) {
    f = new Intl.NumberFormat("en-US", { style: "currency", currency });
    formatters.set(currency, f);
  }
  return f;
}

/** `amountMinor` of `currency` for a person: 250000 BDT → "BDT 2,500.00", 1250 USD → "$12.50". */
export function formatAmount(amountMinor: number, currency: string): string {
  const f = formatterFor(currency);
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  const sign = amountMinor < 0 ? "-" : "";
  const abs = BigInt(Math.abs(Math.trunc(amountMinor)));
  const scale = 10n ** BigInt(digits);
  const decimal = digits === 0 ? `${abs}` : `${abs / scale}.${(abs % scale).toString().padStart(digits, "0")}`;
  // Intl takes a decimal string exactly (no binary rounding). Its no-break space after a code
  // ("BDT\u00a02,500.00") becomes a plain one: the text is plain and matched by tests and people alike.
  return f.format(`${sign}${decimal}` as unknown as number).replaceAll("\u00a0", " ");
}
