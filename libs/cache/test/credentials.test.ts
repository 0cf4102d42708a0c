// A Redis user with a password (as compose's ACL file defines one per service): the client built
// from `redis://user:password@host` authenticates as that user, and the user's key pattern holds.
// A throw-away ACL user on the local Redis, deleted afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRedisCache, createRedisClient, createRedisRateLimiter } from "@careforall/cache";
import { waitFor } from "@careforall/testkit";
import type Redis from "ioredis";

const base = new URL(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
const user = `cfa_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
// Characters that must be percent-escaped in a URL.
const password = "pa/ss@wo:rd";
const prefix = `${user}:`;
const admin = createRedisClient(base.toString());
const clients: Redis[] = [];

function urlFor(name: string, secret: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(name);
  u.password = encodeURIComponent(secret);
  return u.toString();
}

async function connect(url: string): Promise<Redis> {
  const client = createRedisClient(url);
  clients.push(client);
  await client.connect();
  return client;
}

beforeAll(async () => {
  await admin.connect();
  // Only its own keys, every command but the administrative and dangerous ones.
  await admin.acl("SETUSER", user, "on", `>${password}`, `~${prefix}*`, "+@all", "-@admin", "-@dangerous", "+info");
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  await admin.acl("DELUSER", user);
  await admin.quit();
});

describe("Redis credentials", () => {
  test("redis://user:password@host authenticates as that user; the cache and the limiter work", async () => {
    const redis = await connect(urlFor(user, password));
    expect(await redis.acl("WHOAMI")).toBe(user);
    const cache = createRedisCache(redis, prefix);
    await cache.set("k", "v", 60);
    expect(await cache.get("k")).toBe("v");
    expect(await cache.setVersioned("snap", 2, "two")).toBe(true);
    expect(await cache.getVersioned("snap")).toEqual({ version: 2, value: "two" });
    const limiter = createRedisRateLimiter(redis, prefix);
    const first = await limiter.hit("ip:1", 1, 60);
    const second = await limiter.hit("ip:1", 1, 60);
    expect(first.allowed).toBe(true);
    expect(second.allowed).toBe(false);
  });

  test("the user's key pattern holds: another prefix is refused", async () => {
    const redis = await connect(urlFor(user, password));
    const err = await redis.get("someone-else:key").catch((e: Error) => e);
    expect(String(err)).toMatch(/NOPERM/);
  });

  test("a wrong password is refused", async () => {
    const client = createRedisClient(urlFor(user, "wrong"));
    clients.push(client);
    const errors: string[] = [];
    client.on("error", (e: Error) => errors.push(String(e)));
    const err = await client.connect().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    await waitFor(() => errors.some((e) => /WRONGPASS/.test(e)));
    expect(client.status).not.toBe("ready");
  });
});
