// The bank's environment schema: defaults as documented, strings converted, and every invalid
// value reported at once (fail fast).
import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "@careforall/config";
import { createTestKeys } from "@careforall/testkit";
import { BankConfigSchema } from "../src/config";
import { faultsFromConfig, NO_FAULTS } from "../src/domain";

// The bank verifies administrators' access tokens on its operator routes, so it needs auth's key.
const VERIFY = { JWT_PUBLIC_KEY: (await createTestKeys()).publicKeyPem };

test("defaults: port 3105, 7-day holds, 1,000,000 demo balance, 3 s slow account, no faults", () => {
  const config = parseConfig("bank", BankConfigSchema, { ...VERIFY });
  expect(config).toMatchObject({
    PORT: 3105,
    WEBHOOK_URL: "http://127.0.0.1:3000/api/webhooks/bank",
    HOLD_TTL_SECONDS: 604_800,
    DEMO_BALANCE_MINOR: 1_000_000,
    SLOW_ACCOUNT_DELAY_MS: 3000,
  });
  expect(config.WEBHOOK_SECRET.length).toBeGreaterThanOrEqual(16);
  expect(faultsFromConfig(config)).toEqual(NO_FAULTS);
});

test("the fault knobs come from the environment", () => {
  const config = parseConfig("bank", BankConfigSchema, {
    ...VERIFY,
    BANK_ERROR_RATE: "0.1",
    BANK_LOST_RESPONSE_RATE: "0.2",
    BANK_LATENCY_MS: "30",
    BANK_WEBHOOK_DUPLICATE_RATE: "0.3",
    BANK_WEBHOOK_REORDER: "true",
    BANK_WEBHOOK_DROP_RATE: "1",
  });
  expect(faultsFromConfig(config)).toEqual({
    errorRate: 0.1,
    lostResponseRate: 0.2,
    latencyMs: 30,
    webhookDuplicateRate: 0.3,
    webhookReorder: true,
    webhookDropRate: 1,
  });
});

test("invalid values are all reported together", () => {
  let error: unknown;
  try {
    parseConfig("bank", BankConfigSchema, {
      ...VERIFY,
      BANK_ERROR_RATE: "1.5",
      WEBHOOK_SECRET: "short",
      GRANT_SECRET: "short",
      PORT: "0",
      WEBHOOK_URL: "ftp://x",
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const text = (error as ConfigError).problems.join("\n");
  for (const key of ["BANK_ERROR_RATE", "WEBHOOK_SECRET", "GRANT_SECRET", "PORT", "WEBHOOK_URL"])
    expect(text).toContain(key);
});
