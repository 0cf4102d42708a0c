// The embedded profile's connections between services: a call reaches the target's app in-process
// (no socket) with the caller's service credential, so the callee's own caller checks decide; a
// target not running fails like a refused connection and a timeout rejects like a network fetch,
// so breakers and unknown outcomes behave as over the network. And one bus and cache for the
// whole process that no single service's stop can close.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  generateServiceKeySet,
  httpKit,
  identityFromConfig,
  type ServiceKeySet,
  serviceCallers,
  serviceFetch,
  trustedKeysJson,
} from "@careforall/http";
import { createLogger } from "@careforall/log";
import { Elysia } from "elysia";
import { type EmbeddedInfrastructure, embeddedInfrastructure, inProcessFetch, inProcessUrl } from "../src";

const log = createLogger({ service: "boot-test", level: "silent" });
let keys: ServiceKeySet;
let infra: EmbeddedInfrastructure;

beforeAll(async () => {
  keys = await generateServiceKeySet();
  infra = await embeddedInfrastructure({ log });
}, 60_000);
afterAll(async () => {
  await infra.close();
});

describe("inProcessFetch", () => {
  test("hands the request to the app, body and headers included", async () => {
    const app = new Elysia().post("/echo", ({ body, headers }) => ({ body, who: headers["x-who"] }));
    const call = inProcessFetch("bank", () => app);
    const res = await call(`${inProcessUrl("bank")}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-who": "pledge" },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ body: { a: 1 }, who: "pledge" });
  });

  test("a service not running rejects like a refused connection", async () => {
    const call = inProcessFetch("bank", () => undefined);
    await expect(call(`${inProcessUrl("bank")}/x`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  test("the caller's timeout rejects a call that hangs", async () => {
    const app = new Elysia().get("/hang", () => new Promise(() => {}));
    const call = inProcessFetch("bank", () => app);
    const started = Date.now();
    await expect(call(`${inProcessUrl("bank")}/hang`, { signal: AbortSignal.timeout(50) })).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("embeddedInfrastructure", () => {
  test("connect reaches a registered app in-process; its caller check sees the caller's credential", async () => {
    const bankIdentity = await identityFromConfig("bank", {
      SERVICE_PRIVATE_KEY: keys.bank.privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
    });
    const pledgeIdentity = await identityFromConfig("pledge", {
      SERVICE_PRIVATE_KEY: keys.pledge.privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
    });
    const bank = new Elysia()
      .use(httpKit({ service: "bank", log, trust: bankIdentity }))
      .use(serviceCallers)
      .get("/only-pledge", () => ({ ok: true }), { callers: ["pledge"] });
    infra.register("bank", bank);
    const ctx = { service: "pledge" as const, config: {}, log };
    const { url, fetch } = infra.connect(ctx, "bank");
    // No credential: the callee refuses, exactly as over the network.
    expect((await fetch(`${url}/only-pledge`)).status).toBe(401);
    const signed = serviceFetch(pledgeIdentity, "bank", fetch);
    expect((await signed(`${url}/only-pledge`)).status).toBe(200);
    // Another service's credential: named by nobody on this route.
    const asGateway = serviceFetch(
      await identityFromConfig("gateway", { SERVICE_PRIVATE_KEY: keys.gateway.privateKeyPem }, { trustsOthers: false }),
      "bank",
      fetch,
    );
    expect((await asGateway(`${url}/only-pledge`)).status).toBe(403);
    infra.unregister("bank");
    await expect(fetch(`${url}/only-pledge`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  test("every service gets the one bus; a service's close leaves it open for the others", async () => {
    const ctx = (service: "auth" | "campaign") => ({ service, config: {}, log });
    const [a, b] = await Promise.all([infra.bus(ctx("auth")), infra.bus(ctx("campaign"))]);
    const seen: string[] = [];
    const sub = await b.subscribe({
      durable: "embedded-test",
      types: ["test.happened"],
      handler: async (event) => void seen.push(event.id),
    });
    await a.close();
    const id = Bun.randomUUIDv7();
    await a.publish({ id, type: "test.happened", occurredAt: new Date().toISOString(), aggregateId: id, data: {} });
    const deadline = Date.now() + 5_000;
    while (!seen.includes(id) && Date.now() < deadline) await Bun.sleep(10);
    expect(seen).toEqual([id]);
    await sub.stop();
  });

  test("drain waits until the running consumers handled what is in the bus; a stopped consumer does not hold it", async () => {
    const bus = await infra.bus({ service: "pledge", config: {}, log });
    const event = (type: string) => {
      const id = Bun.randomUUIDv7();
      return { id, type, occurredAt: new Date().toISOString(), aggregateId: id, data: {} };
    };
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    const slow = await bus.subscribe({
      durable: "drain-slow",
      types: ["drain.happened"],
      handler: async (e) => {
        await gate;
        handled.push(e.id);
      },
    });
    const events = [event("drain.happened"), event("drain.happened"), event("drain.happened")];
    for (const e of events) await bus.publish(e);
    // The deadline passes with the events still unhandled: they are counted.
    expect(await infra.drain(30, 10)).toBe(3);
    release();
    expect(await infra.drain(5_000, 10)).toBe(0);
    expect(handled.sort()).toEqual(events.map((e) => e.id).sort());
    await slow.stop();

    const stopped = await bus.subscribe({
      durable: "drain-stopped",
      types: ["drain.ignored"],
      handler: async () => {},
    });
    await stopped.stop();
    await bus.publish(event("drain.ignored"));
    expect(await infra.drain(5_000, 10)).toBe(0);
  });
});

describe("embeddedInfrastructure's pools", () => {
  test("each service's pool follows its DATABASE_POOL_MAX, 4 when its configuration has none", async () => {
    const { join } = await import("node:path");
    const { tables } = await import("./fixtures/schema");
    const spec = { schema: tables, migrationsFolder: join(import.meta.dir, "fixtures", "migrations") };
    const sized = await infra.database({ service: "campaign", config: { DATABASE_POOL_MAX: 7 }, log }, spec);
    const unsized = await infra.database({ service: "campaign", config: {}, log }, spec);
    try {
      expect(sized.db.$client.options.max).toBe(7);
      expect(unsized.db.$client.options.max).toBe(4);
    } finally {
      await Promise.all([sized.close(), unsized.close()]);
    }
  });
});
