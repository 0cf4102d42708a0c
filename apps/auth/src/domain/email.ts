// Email identity rule: one account per address regardless of case or stray whitespace, so the
// stored form is the trimmed, lower-cased address and the unique constraint compares that.

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
