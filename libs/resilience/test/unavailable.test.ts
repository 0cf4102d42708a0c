import { describe, expect, test } from "bun:test";
import { BreakerOpenError, classifyUnavailable, DependencyTimeoutError, withDeadline } from "@careforall/resilience";
import postgres from "postgres";

describe("classifyUnavailable", () => {
  test("a refused PostgreSQL connection (real postgres.js error) is a dependency outage", async () => {
    const sql = postgres("postgres://postgres@127.0.0.1:1/none", { max: 1, connect_timeout: 2, onnotice: () => {} });
    const err = await sql`select 1`.catch((e: unknown) => e);
    await sql.end();
    expect(classifyUnavailable(err)).toEqual({ retryAfterSeconds: 2 });
  });

  test("PostgreSQL shutting down or starting up (57P01, 57P03) and connection exceptions (08xxx) are outages", () => {
    for (const code of ["57P01", "57P03", "08006", "08001"])
      expect(classifyUnavailable({ code, severity: "FATAL" })).toEqual({
        dependency: "postgres",
        retryAfterSeconds: 2,
      });
  });

  test("an open breaker says which dependency and how long until the next try (rounded up)", () => {
    expect(classifyUnavailable(new BreakerOpenError("redis", 1_200))).toEqual({
      dependency: "redis",
      retryAfterSeconds: 2,
    });
  });

  test("a wrapped cause is looked through", () => {
    expect(classifyUnavailable(new Error("query failed", { cause: { code: "CONNECTION_CLOSED" } }))).toEqual({
      retryAfterSeconds: 2,
    });
  });

  test("statement errors and our own bugs are not outages", async () => {
    expect(classifyUnavailable({ code: "23505", severity: "ERROR" })).toBeNull(); // unique violation
    expect(classifyUnavailable({ code: "ECONNREFUSED", severity: "ERROR" })).toBeNull(); // not a socket's code
    expect(classifyUnavailable(new TypeError("x is undefined"))).toBeNull();
    expect(classifyUnavailable("ECONNREFUSED")).toBeNull();
  });
});

describe("withDeadline", () => {
  test("an answer in time passes through", async () => {
    expect(await withDeadline(Promise.resolve(42), 1_000, "nats")).toBe(42);
  });

  test("no answer: DependencyTimeoutError naming the dependency, read as unavailable", async () => {
    const never = new Promise<number>(() => {});
    const err = await withDeadline(never, 10, "nats").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyTimeoutError);
    expect(classifyUnavailable(err)).toEqual({ dependency: "nats", retryAfterSeconds: 2 });
  });

  test("the work's own failure is the caller's, not a timeout", async () => {
    const err = await withDeadline(Promise.reject(new Error("boom")), 1_000, "nats").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe("boom");
  });
});
