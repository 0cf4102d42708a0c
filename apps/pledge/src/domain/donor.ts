// Who a donor is, for keys and events: signed-in donors by user id, guests by the SHA-256 of their
// normalised email (never the address itself), and the display name the gateway forwards.

export const sha256Hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** One donor per address regardless of case or stray whitespace. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export interface DonorIdentity {
  /** Idempotency scope: keys are unique per donor, never globally. */
  scope: string;
  /** Stable donor id for events and distinct-donor counts. */
  donorKey: string;
}

/** Signed-in donors are scoped by user id; guests by the SHA-256 of their normalised email. */
export function donorIdentity(donor: { userId: string } | { guestEmail: string }): DonorIdentity {
  if ("userId" in donor) return { scope: `user:${donor.userId}`, donorKey: donor.userId };
  const key = `guest:${sha256Hex(normaliseEmail(donor.guestEmail))}`;
  return { scope: key, donorKey: key };
}

/**
 * The x-donor-name header as text. HTTP headers carry Latin-1 only, so the gateway may send a
 * name percent-encoded (encodeURIComponent); a value that does not decode is taken as it is.
 */
export function headerText(value: string | undefined): string | undefined {
  if (value === undefined || !/%[0-9A-Fa-f]{2}/.test(value)) return value?.trim() || undefined;
  try {
    return decodeURIComponent(value).trim() || undefined;
  } catch {
    return value.trim() || undefined;
  }
}
