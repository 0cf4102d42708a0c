// Production refuses weak configuration (issue 8): with NODE_ENV=production every service refuses
// to start with a development secret, a missing one or the development admin password, and says
// which setting and why — checked on each service's own config schema, and on the real processes
// (each main.ts exits non-zero before it touches anything).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, DEVELOPMENT_SECRETS, parseConfig, secretKeys } from "@careforall/config";
import type { TObject } from "@sinclair/typebox";
import { AuthConfigSchema } from "../../apps/auth/src/config";
import { BankConfigSchema } from "../../apps/bank/src/config";
import { CampaignConfigSchema } from "../../apps/campaign/src/config";
import { ChatConfigSchema } from "../../apps/chat/src/config";
import { GatewayConfigSchema } from "../../apps/gateway/src/config";
import { NotificationConfigSchema } from "../../apps/notification/src/config";
import { PaymentConfigSchema } from "../../apps/payment/src/config";
import { PledgeConfigSchema } from "../../apps/pledge/src/config";

const ROOT = join(import.meta.dir, "..", "..");

/** Each service and the secrets production must be given (the service-identity keys are the lead's rule). */
const SERVICES: Record<string, { schema: TObject; secrets: string[] }> = {
  auth: { schema: AuthConfigSchema, secrets: ["ADMIN_PASSWORD"] },
  bank: { schema: BankConfigSchema, secrets: ["WEBHOOK_SECRET", "GRANT_SECRET"] },
  payment: { schema: PaymentConfigSchema, secrets: ["WEBHOOK_SECRET"] },
  pledge: { schema: PledgeConfigSchema, secrets: ["DONOR_KEY_SECRET"] },
  campaign: { schema: CampaignConfigSchema, secrets: [] },
  gateway: { schema: GatewayConfigSchema, secrets: [] },
  notification: { schema: NotificationConfigSchema, secrets: [] },
  chat: { schema: ChatConfigSchema, secrets: [] },
};

/** The development value a secret defaults to. */
const DEVELOPMENT: Record<string, string> = { ...DEVELOPMENT_SECRETS };

const strong = () => `${crypto.randomUUID()}-${crypto.randomUUID()}`;

/** The problems parseConfig reports for `env` (none when it parses). */
function problems(schema: TObject, env: Record<string, string>): string[] {
  try {
    parseConfig("svc", schema, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
const about = (lines: string[], key: string) => lines.filter((l) => l.startsWith(`${key}:`));

describe.each(Object.entries(SERVICES))("%s", (_name, { schema, secrets }) => {
  test("every setting named *_SECRET or *_PASSWORD is declared a secret", () => {
    const named = Object.keys(schema.properties).filter((k) => /(^|_)(SECRET|PASSWORD)$/.test(k));
    expect(secretKeys(schema)).toEqual(expect.arrayContaining([...named, ...secrets]));
  });

  if (secrets.length === 0) return;

  test("production, secrets unset → one problem each, naming it; elsewhere the development value applies", () => {
    const lines = problems(schema, { NODE_ENV: "production" });
    for (const key of secrets) expect(about(lines, key)).toEqual([expect.stringContaining("not set")]);
    for (const NODE_ENV of ["development", "test"]) {
      expect(problems(schema, { NODE_ENV }).filter((l) => secrets.some((k) => l.startsWith(`${k}:`)))).toEqual([]);
    }
  });

  test("production, the development values → refused, naming each", () => {
    const env: Record<string, string> = { NODE_ENV: "production" };
    for (const key of secrets) env[key] = DEVELOPMENT[key]!;
    const lines = problems(schema, env);
    for (const key of secrets) expect(about(lines, key)).toEqual([expect.stringContaining("development value")]);
  });

  test("production, strong values of its own → no problem about any secret", () => {
    const env: Record<string, string> = { NODE_ENV: "production" };
    for (const key of secrets) env[key] = strong();
    const lines = problems(schema, env);
    for (const key of secrets) expect(about(lines, key)).toEqual([]);
  });
});

test("the gateway verifies no webhook itself: payment's WEBHOOK_SECRET (behind /api/webhooks/bank) is the rule's", () => {
  expect(GatewayConfigSchema.properties).not.toHaveProperty("WEBHOOK_SECRET");
  expect(secretKeys(PaymentConfigSchema)).toContain("WEBHOOK_SECRET");
  const lines = problems(PaymentConfigSchema, { NODE_ENV: "production", WEBHOOK_SECRET: DEVELOPMENT.WEBHOOK_SECRET! });
  expect(about(lines, "WEBHOOK_SECRET")).toHaveLength(1);
});

describe("the real processes (NODE_ENV=production)", () => {
  /** Runs a service's main.ts; resolves with its exit code and stderr, or fails after the deadline. */
  async function start(service: string, env: Record<string, string>) {
    const proc = Bun.spawn(["bun", join(ROOT, "apps", service, "src", "main.ts")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        NODE_ENV: "production",
        // Nothing must be reached: a refused configuration exits before any connection.
        DATABASE_URL: "postgres://nobody@127.0.0.1:1/refused",
        REDIS_URL: "redis://127.0.0.1:1",
        NATS_URL: "nats://127.0.0.1:1",
        PORT: "1",
        ...env,
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const exited = await Promise.race([proc.exited, Bun.sleep(20_000).then(() => "timeout" as const)]);
    if (exited === "timeout") proc.kill("SIGKILL");
    return { code: exited, stderr: await new Response(proc.stderr).text() };
  }

  test.each([
    ["bank", { WEBHOOK_SECRET: DEVELOPMENT_SECRETS.WEBHOOK_SECRET }, ["WEBHOOK_SECRET", "GRANT_SECRET"]],
    ["payment", { WEBHOOK_SECRET: DEVELOPMENT_SECRETS.WEBHOOK_SECRET }, ["WEBHOOK_SECRET"]],
    ["auth", { ADMIN_PASSWORD: DEVELOPMENT_SECRETS.ADMIN_PASSWORD }, ["ADMIN_PASSWORD"]],
    ["pledge", {}, ["DONOR_KEY_SECRET"]],
  ] as const)("%s refuses to start, one line per weak secret", async (service, env, named) => {
    const { code, stderr } = await start(service, env);
    expect(code).not.toBe("timeout");
    expect(code).not.toBe(0);
    expect(stderr).toContain(`invalid configuration for ${service}`);
    for (const key of named) expect(stderr).toMatch(new RegExp(`^  - ${key}: (not set|is a development value)`, "m"));
  });
});
