import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "bun:test";
import { serviceHeaders } from "@careforall/testkit";
import { treaty } from "@elysiajs/eden";
import type { AuthApp } from "../src/app";
import { type Harness, newEmail, startAuth } from "./support";

let h: Harness;

beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.close();
});

describe("typed Eden client (what the gateway compiles against)", () => {
  test("register, me, lookup, refresh and logout through treaty with inferred types", async () => {
    // As the gateway calls auth: with its service credential.
    const api = treaty<AuthApp>(h.app, { headers: await serviceHeaders("auth") });
    const email = newEmail("eden");
    const registered = await api.auth.register.post({ email, password: "correct horse battery", name: "Eden" });
    expect(registered.status).toBe(201);
    if (!registered.data) throw new Error(`register failed: ${JSON.stringify(registered.error)}`);
    const session = registered.data;
    expectTypeOf(session.user.role).toEqualTypeOf<"donor" | "admin">();
    expectTypeOf(session.user.bankAccountId).toEqualTypeOf<string | null>();
    expectTypeOf(session.expiresIn).toEqualTypeOf<number>();
    expect([session.user.role, session.user.bankAccountId]).toEqual(["donor", null]);

    const me = await api.me.get({ headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(me.data?.email).toBe(email);

    const byId = await api.users({ id: session.user.id }).get({
      headers: { authorization: `Bearer ${await h.adminToken()}` },
    });
    expect(byId.data).toEqual(session.user);

    const duplicate = await api.auth.register.post({ email, password: "correct horse battery", name: "Eden" });
    expect(duplicate.error?.status).toBe(409);

    const refreshed = await api.auth.refresh.post({ refreshToken: session.refreshToken });
    expect(refreshed.data?.user.id).toBe(session.user.id);

    const logout = await api.auth.logout.post({ refreshToken: refreshed.data?.refreshToken ?? "" });
    expect(logout.status).toBe(204);

    const jwks = await api[".well-known"]["jwks.json"].get();
    expect(jwks.data?.keys[0]?.alg).toBe("EdDSA");
  });
});
