import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMemoryBus, type EventEnvelope } from "@careforall/bus";
import { silentLogger } from "@careforall/log";
import { createOutboxRelay } from "@careforall/outbox";
import { waitFor } from "@careforall/testkit";
import { eq, sql } from "drizzle-orm";
import { authDbSchema } from "../src/app";
import { type Harness, newEmail, problem, startAuth } from "./support";

const { outbox, users } = authDbSchema;
let h: Harness;
let commits = 0;

beforeAll(async () => {
  h = await startAuth({ onCommitted: () => commits++ });
});
afterAll(async () => {
  await h?.close();
});

describe("POST /auth/register", () => {
  test("creates a donor and answers 201 with a Session, never echoing the password", async () => {
    const body = { email: newEmail(), password: "correct horse battery", name: "Ada Donor" };
    const res = await h.post("/auth/register", body);
    expect(res.status).toBe(201);
    const text = await res.text();
    const session = JSON.parse(text);
    expect(session).toEqual({
      user: { id: expect.any(String), email: body.email, name: "Ada Donor", role: "donor", bankAccountId: null },
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
    });
    expect(session.user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(text).not.toContain(body.password);
    expect(text).not.toContain("argon2");
    expect(text).not.toContain("passwordHash");
  });

  test("stores the email trimmed and lower-cased, and only a hash of the password", async () => {
    const email = newEmail();
    const { session } = await h.register({ email: email.toUpperCase() });
    expect(session.user.email).toBe(email);
    const [row] = await h.db.db.select().from(users).where(eq(users.id, session.user.id));
    expect(row?.email).toBe(email);
    expect(row?.passwordHash).toStartWith("$argon2id$");
    expect(row?.passwordHash).toContain("m=4096");
  });

  test("a duplicate email, in any case, → 409 problem", async () => {
    const { body } = await h.register();
    await problem(await h.post("/auth/register", body), 409);
    await problem(await h.post("/auth/register", { ...body, email: body.email.toUpperCase() }), 409);
  });

  test("20 concurrent registrations of one email → exactly one 201, the rest 409, one user and one event", async () => {
    const email = newEmail("race");
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.post("/auth/register", {
          email: i % 2 ? email.toUpperCase() : email,
          password: "pass-word-1",
          name: `R${i}`,
        }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const rows = await h.db.db.select().from(users).where(eq(users.email, email));
    expect(rows).toHaveLength(1);
    const events = await h.db.db.select().from(outbox).where(sql`${outbox.envelope}->'data'->>'email' = ${email}`);
    expect(events).toHaveLength(1);
  });

  test("a role in the body is ignored: registration always makes a donor", async () => {
    const res = await h.post("/auth/register", {
      email: newEmail("sneaky"),
      password: "correct horse battery",
      name: "Mallory",
      role: "admin",
    });
    expect(res.status).toBe(201);
    const session = await res.json();
    expect(session.user.role).toBe("donor");
    const [row] = await h.db.db.select().from(users).where(eq(users.id, session.user.id));
    expect(row?.role).toBe("donor");
    const me = await (await h.get("/me", session.accessToken)).json();
    expect(me.role).toBe("donor");
  });

  test("writes a user.registered event to the outbox with the user's id, and signals the commit", async () => {
    const before = commits;
    const { session, body } = await h.register();
    expect(commits).toBe(before + 1);
    const rows = await h.db.db.select().from(outbox).where(eq(outbox.aggregateId, session.user.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.type).toBe("user.registered");
    expect(rows[0]?.publishedAt).toBeNull();
    expect(rows[0]?.envelope).toMatchObject({
      type: "user.registered",
      aggregateId: session.user.id,
      data: { userId: session.user.id, email: body.email, name: body.name, role: "donor" },
    });
    // A refused registration commits nothing and signals nothing.
    await problem(await h.post("/auth/register", body), 409);
    expect(commits).toBe(before + 1);
  });

  test("the outbox relay publishes user.registered to the bus", async () => {
    const log = silentLogger();
    const bus = createMemoryBus({ log });
    const received: EventEnvelope[] = [];
    const sub = await bus.subscribe({
      types: ["user.registered"],
      handler: async (event) => {
        received.push(event);
      },
    });
    const relay = createOutboxRelay({ db: h.db.db, table: outbox, bus, log, pollMs: 20 });
    relay.start();
    try {
      const { session } = await h.register();
      const event = await waitFor(() => received.find((e) => e.aggregateId === session.user.id), {
        what: "user.registered on the bus",
      });
      expect(event.data).toMatchObject({ userId: session.user.id, role: "donor" });
      // The relay marks the row published in the transaction that is still open while the
      // subscriber already holds the event, so wait for that commit rather than racing it.
      const row = await waitFor(
        async () =>
          (await h.db.db.select().from(outbox).where(eq(outbox.aggregateId, session.user.id))).find(
            (r) => r.publishedAt,
          ),
        { what: "outbox row marked published" },
      );
      expect(row.publishedAt).toBeInstanceOf(Date);
    } finally {
      await relay.stop();
      await sub.stop();
      await bus.close();
    }
  });
});

describe("input validation → 400 problem+json", () => {
  const valid = { email: "valid@example.org", password: "long enough", name: "Val" };
  const cases: Array<[string, unknown, string[]]> = [
    ["missing fields", {}, ["email", "password", "name"]],
    ["email of the wrong type", { ...valid, email: 42 }, ["email"]],
    ["password of the wrong type", { ...valid, password: 12345678 }, ["password"]],
    ["a password under 8 characters", { ...valid, password: "short" }, ["password"]],
    ["a password over 128 characters", { ...valid, password: "p".repeat(129) }, ["password"]],
    ["an empty name", { ...valid, name: "" }, ["name"]],
    ["a name over 80 characters", { ...valid, name: "n".repeat(81) }, ["name"]],
    ["an invalid email", { ...valid, email: "not-an-email" }, ["email"]],
    ["an email over 254 characters", { ...valid, email: `${"a".repeat(250)}@example.org` }, ["email"]],
  ];
  test.each(cases)("register with %s names the fields", async (_, body, paths) => {
    const res = await problem(await h.post("/auth/register", body), 400);
    expect(res.errors?.map((e) => e.path).sort()).toEqual([...paths].sort());
  });

  test("malformed JSON → 400 problem", async () => {
    const res = await problem(await h.post("/auth/register", '{"email": "a@b.co",'), 400);
    expect(res.title).toBe("Malformed request body");
  });

  test("login, refresh and logout validate their bodies too", async () => {
    const login = await problem(await h.post("/auth/login", { email: "x@example.org" }), 400);
    expect(login.errors?.map((e) => e.path)).toEqual(["password"]);
    const refresh = await problem(await h.post("/auth/refresh", { refreshToken: "" }), 400);
    expect(refresh.errors?.map((e) => e.path)).toEqual(["refreshToken"]);
    const logout = await problem(await h.post("/auth/logout", { refreshToken: "t".repeat(513) }), 400);
    expect(logout.errors?.map((e) => e.path)).toEqual(["refreshToken"]);
  });

  test("a malformed user id → 400 naming the parameter", async () => {
    const res = await problem(await h.get("/users/not-a-uuid", await h.adminToken()), 400);
    expect(res.errors?.[0]?.path).toBe("id");
  });
});
