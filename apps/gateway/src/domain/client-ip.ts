// Who is calling: the socket peer, unless that peer is a trusted proxy, in which case the
// right-most untrusted X-Forwarded-For entry. A forged header from a direct client changes nothing.

export function parseTrustedProxies(list: string): Set<string> {
  return new Set(
    list
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

export function clientIp(peer: string | undefined, forwardedFor: string | null, trusted: Set<string>): string {
  const direct = peer ?? "unknown";
  if (!forwardedFor || !trusted.has(direct)) return direct;
  const hops = forwardedFor
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? direct;
}
