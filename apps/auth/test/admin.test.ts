import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { type AuthModel, authDbSchema, ensureAdmin } from "../src/app";
import { type Harness, newEmail, problem, startAuth } from "./support";

const { outbox, users } = authDbSchema;
let h: Harness;

beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.close();
});

const login = (email: string, password: string) => h.post("/auth/login", { email, password });
const rowsFor = (email: string) => h.db.db.select().from(users).where(eq(users.email, email));

describe("ensureAdmin", () => {
  test("creates the admin once, however often (and concurrently) it runs", async () => {
    const email = newEmail("admin");
    const admin = { email, password: "admin-password-1", name: "Root" };
    const first = await ensureAdmin(h.deps, admin);
    const again = await ensureAdmin(h.deps, admin);
    await Promise.all([ensureAdmin(h.deps, admin), ensureAdmin(h.deps, admin), ensureAdmin(h.deps, admin)]);
    expect(again).toEqual(first);
    expect(first).toMatchObject({ email, name: "Root", role: "admin", bankAccountId: null });
    const rows = await rowsFor(email);
    expect(rows).toHaveLength(1);
    const events = await h.db.db.select().from(outbox).where(eq(outbox.aggregateId, first.id));
    expect(events.map((e) => e.envelope.data)).toEqual([{ userId: first.id, email, name: "Root", role: "admin" }]);

    const res = await login(email.toUpperCase(), admin.password);
    expect(res.status).toBe(200);
    const session = await res.json();
    expect(session.user.role).toBe("admin");
    expect((await (await h.get("/me", session.accessToken)).json()).role).toBe("admin");
  });

  test("normalises the configured email", async () => {
    const email = newEmail("admin");
    await ensureAdmin(h.deps, { email: `  ${email.toUpperCase()} `, password: "admin-password-1", name: "Root" });
    expect(await rowsFor(email)).toHaveLength(1);
  });

  test("keeps the password hash while the password still verifies, replaces it when it changed", async () => {
    const email = newEmail("admin");
    await ensureAdmin(h.deps, { email, password: "first-password", name: "Root" });
    const [before] = await rowsFor(email);
    await ensureAdmin(h.deps, { email, password: "first-password", name: "Root" });
    const [unchanged] = await rowsFor(email);
    expect(unchanged?.passwordHash).toBe(before?.passwordHash ?? "");

    await ensureAdmin(h.deps, { email, password: "second-password", name: "Root" });
    await problem(await login(email, "first-password"), 401);
    expect((await login(email, "second-password")).status).toBe(200);
    expect(await rowsFor(email)).toHaveLength(1);
  });

  test("promotes an existing donor account with that email", async () => {
    const { body, session } = await h.register();
    expect(session.user.role).toBe("donor");
    const admin = await ensureAdmin(h.deps, { email: body.email, password: body.password, name: "ignored" });
    expect(admin).toEqual({ ...session.user, role: "admin" });
    const relogin = await (await login(body.email, body.password)).json();
    expect(relogin.user.role).toBe("admin");
  });

  test("registration can never produce an admin, not even with the admin's email", async () => {
    const email = newEmail("admin");
    await ensureAdmin(h.deps, { email, password: "admin-password-1", name: "Root" });
    await problem(await h.post("/auth/register", { email, password: "takeover-attempt", name: "X" }), 409);
    // An extra `role` field in the body is ignored.
    const { session } = await h.register({ role: "admin" } as Partial<AuthModel.RegisterBody>);
    expect(session.user.role).toBe("donor");
    const [row] = await h.db.db.select().from(users).where(eq(users.id, session.user.id));
    expect(row?.role).toBe("donor");
    expect((await rowsFor(email))[0]?.name).toBe("Root");
  });
});
