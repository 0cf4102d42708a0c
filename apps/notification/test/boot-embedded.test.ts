// notificationService booted by bootService on the embedded profile (PGlite, the in-memory bus,
// cache and fan-out), as the one-process platform runs it: its migrations apply on PGlite, a
// donor's captured pledge on the bus is stored and pushed once, and the route lists it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type BootedService, bootService, type EmbeddedInfrastructure, embeddedInfrastructure } from "@careforall/boot";
import type { Bus, Fanout } from "@careforall/bus";
import { trustedKeysJson } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { accessTokenSigner, createTestKeys, inProcessCaller, testServiceKeys, waitFor } from "@careforall/testkit";
import { notificationService } from "../src/main";
import { pledgeChange, pledgeCreated, user } from "./support";

const log = silentLogger("notification-embedded-test");
let infra: EmbeddedInfrastructure;
let booted: BootedService<unknown>;
let bus: Bus;
let fanout: Fanout;
let call: ReturnType<typeof inProcessCaller>;

beforeAll(async () => {
  infra = await embeddedInfrastructure({ log });
  const keys = await testServiceKeys();
  const jwt = await createTestKeys();
  booted = (await bootService(notificationService, {
    infrastructure: infra,
    listen: false,
    env: {
      LOG_LEVEL: "silent",
      DATABASE_URL: infra.databaseUrl,
      JWT_PUBLIC_KEY: jwt.publicKeyPem,
      SERVICE_PRIVATE_KEY: keys.notification.privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
    },
  })) as BootedService<unknown>;
  infra.register("notification", booted.app);
  const ctx = { service: "gateway" as const, config: {}, log };
  bus = await infra.bus(ctx);
  fanout = await infra.fanout(ctx);
  call = inProcessCaller(booted.app, await accessTokenSigner(jwt.privateKeyPem), "notification");
}, 120_000); // PGlite's first start takes tens of seconds on a loaded machine

afterAll(async () => {
  await booted.stop();
  infra.unregister("notification");
  await infra.close();
});

test("on PGlite and the in-memory bus: a captured pledge is stored and pushed once, and listed", async () => {
  const donor = user("Nusrat");
  const created = pledgeCreated({ donorId: donor.id });
  const frames: Array<Record<string, unknown>> = [];
  const unsubscribe = fanout.subscribe(`user.${donor.id}`, (json) => frames.push(JSON.parse(json)));
  const captured = pledgeChange(created.data, "captured");
  for (const event of [created, captured]) await bus.publish(event);

  const listed = await waitFor(async () => {
    const res = await call("GET", "/notifications", { as: donor });
    const body = (await res.json()) as { items: Array<{ kind: string }> };
    return body.items.length > 0 ? body.items : null;
  });
  expect(listed.map((n) => n.kind)).toEqual(["pledge.captured"]);
  await waitFor(() => frames.length === 2, { what: "status and notification frames" });
  expect(frames.map((f) => f.type)).toEqual(["pledge.status", "notification"]);
  unsubscribe();
});
