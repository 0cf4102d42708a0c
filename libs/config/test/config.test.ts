import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig, T } from "@careforall/config";

const schema = T.Object({
  PORT: T.Integer({ minimum: 1, maximum: 65535, default: 3000 }),
  DATABASE_URL: T.String({ pattern: "^postgres" }),
  SECRET: T.String({ minLength: 8 }),
  DEBUG: T.Boolean({ default: false }),
});

describe("parseConfig", () => {
  test("applies defaults and coerces strings to numbers and booleans", () => {
    const cfg = parseConfig("svc", schema, { DATABASE_URL: "postgres://x", SECRET: "12345678", DEBUG: "true" });
    expect(cfg).toEqual({ PORT: 3000, DATABASE_URL: "postgres://x", SECRET: "12345678", DEBUG: true });
  });

  test("reports every problem at once", () => {
    try {
      parseConfig("svc", schema, { PORT: "99999", DATABASE_URL: "mysql://x" });
      throw new Error("expected ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join("\n");
      expect(problems).toContain("PORT");
      expect(problems).toContain("DATABASE_URL");
      expect(problems).toContain("SECRET");
    }
  });

  test("ignores unrelated environment variables and empty strings", () => {
    const cfg = parseConfig("svc", schema, { DATABASE_URL: "postgres://x", SECRET: "12345678", PORT: "", OTHER: "1" });
    expect(cfg.PORT).toBe(3000);
    expect(Object.keys(cfg)).not.toContain("OTHER");
  });

  test("loadConfig exits non-zero and prints every problem", async () => {
    const script = `import { loadConfig, T } from "@careforall/config"; loadConfig("demo", T.Object({ A: T.Integer(), B: T.String() }), {});`;
    const proc = Bun.spawn(["bun", "-e", script], { stderr: "pipe", stdout: "pipe", cwd: import.meta.dir });
    const code = await proc.exited;
    const err = await new Response(proc.stderr).text();
    expect(code).not.toBe(0);
    expect(err).toContain("A:");
    expect(err).toContain("B:");
  });
});
