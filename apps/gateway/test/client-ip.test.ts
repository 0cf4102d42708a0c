// Who the rate limiter counts: the socket peer, unless that peer is a trusted proxy; then the
// right-most X-Forwarded-For hop that is not itself trusted. A direct client cannot forge its IP.
import { describe, expect, test } from "bun:test";
import { clientIp, normaliseIp, parseTrustedProxies } from "../src/domain/client-ip";

const none = parseTrustedProxies("");
const proxies = parseTrustedProxies("10.0.0.1, 10.0.0.2");

describe("parseTrustedProxies", () => {
  test("splits on commas, trims, and drops empty entries", () => {
    expect([...parseTrustedProxies(" 10.0.0.1 ,, 10.0.0.2 ,")]).toEqual(["10.0.0.1", "10.0.0.2"]);
  });
  test("an empty list trusts nobody", () => {
    expect(none.size).toBe(0);
    expect(parseTrustedProxies("  ").size).toBe(0);
  });
});

describe("clientIp", () => {
  test("without a trusted proxy the peer is the client", () => {
    expect(clientIp("203.0.113.7", null, none)).toBe("203.0.113.7");
    expect(clientIp("203.0.113.7", null, proxies)).toBe("203.0.113.7");
  });

  test("a forged X-Forwarded-For from a direct client is ignored", () => {
    expect(clientIp("203.0.113.7", "198.51.100.1", none)).toBe("203.0.113.7");
    expect(clientIp("203.0.113.7", "198.51.100.1, 10.0.0.1", proxies)).toBe("203.0.113.7");
  });

  test("a different forged header each time never changes the answer", () => {
    const seen = new Set(
      Array.from({ length: 20 }, (_, i) => clientIp("203.0.113.7", `198.51.100.${i}`, parseTrustedProxies(""))),
    );
    expect([...seen]).toEqual(["203.0.113.7"]);
  });

  test("X-Forwarded-For is honoured when the peer is a trusted proxy", () => {
    expect(clientIp("10.0.0.1", "198.51.100.1", proxies)).toBe("198.51.100.1");
  });

  test("the right-most untrusted hop wins: left-hand entries are client-controlled", () => {
    // The client sent "X-Forwarded-For: 1.1.1.1"; our proxies appended the real address and themselves.
    expect(clientIp("10.0.0.1", "1.1.1.1, 198.51.100.9, 10.0.0.2", proxies)).toBe("198.51.100.9");
    expect(clientIp("10.0.0.2", "1.1.1.1,198.51.100.9", proxies)).toBe("198.51.100.9");
  });

  test("whitespace and empty hops are tolerated", () => {
    expect(clientIp("10.0.0.1", " 198.51.100.3 , , ", proxies)).toBe("198.51.100.3");
  });

  test("a trusted peer with an empty or missing header is itself the client", () => {
    expect(clientIp("10.0.0.1", null, proxies)).toBe("10.0.0.1");
    expect(clientIp("10.0.0.1", "", proxies)).toBe("10.0.0.1");
    expect(clientIp("10.0.0.1", " , ", proxies)).toBe("10.0.0.1");
  });

  test("when every hop is a trusted proxy the left-most one is used", () => {
    expect(clientIp("10.0.0.1", "10.0.0.2, 10.0.0.1", proxies)).toBe("10.0.0.2");
  });

  test("an unknown peer address is reported as such, never taken from the header", () => {
    expect(clientIp(undefined, "198.51.100.1", none)).toBe("unknown");
    expect(clientIp(undefined, null, proxies)).toBe("unknown");
  });

  test("IPv4-mapped IPv6 peers (dual-stack listener) match IPv4 entries in TRUSTED_PROXIES", () => {
    expect(clientIp("::ffff:10.0.0.1", "198.51.100.1", proxies)).toBe("198.51.100.1");
    expect(clientIp("::ffff:203.0.113.7", "198.51.100.1", proxies)).toBe("203.0.113.7");
    expect(clientIp("10.0.0.1", "198.51.100.1, ::ffff:10.0.0.2", proxies)).toBe("198.51.100.1");
    expect(clientIp("10.0.0.1", "::FFFF:198.51.100.4", proxies)).toBe("198.51.100.4");
  });

  test("IPv6 proxies and clients work as written", () => {
    const v6 = parseTrustedProxies("fd00::1");
    expect(clientIp("fd00::1", "2001:db8::7", v6)).toBe("2001:db8::7");
    expect(clientIp("2001:db8::9", "2001:db8::7", v6)).toBe("2001:db8::9");
  });
});

describe("normaliseIp", () => {
  test("unwraps IPv4-mapped addresses and lower-cases IPv6", () => {
    expect(normaliseIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normaliseIp("2001:DB8::1")).toBe("2001:db8::1");
    expect(normaliseIp("::1")).toBe("::1");
    expect(normaliseIp(" 10.0.0.1 ")).toBe("10.0.0.1");
  });
});
