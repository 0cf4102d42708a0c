import { describe, expect, test } from "bun:test";
import { createLogger } from "@careforall/log";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (s: string) => lines.push(JSON.parse(s)) };
  return { lines, destination };
}

describe("createLogger", () => {
  test("stamps service and carries child bindings", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    log.child({ requestId: "r1", traceId: "t1" }).info({ userId: "u1" }, "user.registered");
    expect(lines[0]).toMatchObject({ service: "auth", requestId: "r1", traceId: "t1", userId: "u1", level: "info" });
  });

  test("redacts authorization, passwords, tokens and secrets at any depth", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    log.info({
      authorization: "Bearer abc",
      password: "hunter22",
      headers: { authorization: "Bearer x" },
      body: { password: "p", refreshToken: "r", accountSecret: "s" },
      accessToken: "a",
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ["Bearer abc", "hunter22", "Bearer x", '"p"', '"r"', '"s"', '"a"']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[redacted]");
  });

  test("respects the level", () => {
    const { lines, destination } = capture();
    createLogger({ service: "x", level: "warn", destination }).info("hidden");
    expect(lines).toHaveLength(0);
  });

  test("redaction leaves the caller's objects alone and censors child bindings and deep keys", () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: "auth", destination });
    const fields = {
      req: { headers: { authorization: "Bearer deep", host: "h" } },
      nested: { a: { b: { token: "t0k" } } },
    };
    log.child({ secret: "bound", requestId: "r2" }).info(fields, "x");
    const text = JSON.stringify(lines[0]);
    for (const secret of ["Bearer deep", "t0k", "bound"]) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ requestId: "r2", req: { headers: { host: "h", authorization: "[redacted]" } } });
    expect(fields.req.headers.authorization).toBe("Bearer deep");
  });
});
