// Who is calling: the socket peer, unless that peer is a trusted proxy, in which case the
// right-most untrusted X-Forwarded-For entry. A forged header from a direct client changes nothing.

/**
 * One spelling per address: a dual-stack listener reports IPv4 peers as `::ffff:10.0.0.1`, which
 * must still match `10.0.0.1` in TRUSTED_PROXIES (and count as the same client as plain IPv4).
 */
export function normaliseIp(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

export function parseTrustedProxies(list: string): Set<string> {
  return new Set(
    list
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map(normaliseIp),
  );
}

export function clientIp(peer: string | undefined, forwardedFor: string | null, trusted: Set<string>): string {
  const direct = peer === undefined ? "unknown" : normaliseIp(peer);
  if (!forwardedFor || !trusted.has(direct)) return direct;
  const hops = forwardedFor
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(normaliseIp);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? direct;
}
