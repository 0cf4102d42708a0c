// Who a donor is, for keys and events: signed-in donors by user id, guests by a keyed HMAC of their
// normalised email (never the address itself, nor a bare hash anyone could recompute from a
// guessed address), and the display name the gateway forwards.
import { createHmac } from "node:crypto";

export const sha256Hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** One donor per address regardless of case or stray whitespace. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export interface DonorIdentity {
  /** Idempotency scope: keys are unique per donor, never globally. */
  scope: string;
  /** Stable donor id for events and distinct-donor counts. */
  donorKey: string;
}

/** Domain separation: this HMAC's output is a guest's donor key and can stand for nothing else. */
const GUEST_DONOR_KEY_CONTEXT = "careforall/pledge/guest-donor-key/v1\n";

/**
 * A guest's donor key: `guest:` + hex HMAC-SHA256(DONOR_KEY_SECRET, context ‖ normalised email).
 * The only derivation of it; without the secret it cannot be recomputed from an address.
 */
export function guestDonorKey(email: string, donorKeySecret: string): string {
  if (donorKeySecret.length === 0) throw new Error("guestDonorKey: the donor key secret is empty");
  const mac = createHmac("sha256", donorKeySecret).update(GUEST_DONOR_KEY_CONTEXT + normaliseEmail(email));
  return `guest:${mac.digest("hex")}`;
}

/**
 * Signed-in donors are scoped by user id; guests by their donor key (guestDonorKey), which is also
 * their Idempotency-Key scope.
 */
export function donorIdentity(
  donor: { userId: string } | { guestEmail: string },
  donorKeySecret: string,
): DonorIdentity {
  if ("userId" in donor) return { scope: `user:${donor.userId}`, donorKey: donor.userId };
  const key = guestDonorKey(donor.guestEmail, donorKeySecret);
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
