// The notification service's configuration: its defaults (port 3106, the stuck grace period equal
// to the pledge service's own) and every problem reported at once.
import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "@careforall/config";
import { PledgeConfigSchema } from "@careforall/pledge";
import { NotificationConfigSchema } from "../src/config";

const JWT_PUBLIC_KEY =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAabcdefabcdefabcdefabcdefabcdefabcdefabcdefabc=\n-----END PUBLIC KEY-----";

test("defaults: port 3106, and pledges count as stuck after the pledge service's own grace period", () => {
  const config = parseConfig("notification", NotificationConfigSchema, { JWT_PUBLIC_KEY });
  const pledge = parseConfig("pledge", PledgeConfigSchema, { JWT_PUBLIC_KEY });
  expect(config.PORT).toBe(3106);
  expect(config.PLEDGE_STUCK_AFTER_SECONDS).toBe(pledge.STUCK_AFTER_SECONDS);
  expect(config.STUCK_SWEEP_INTERVAL_MS).toBe(5_000);
});

test("bad values are all reported together", () => {
  let error: unknown;
  try {
    parseConfig("notification", NotificationConfigSchema, {
      PLEDGE_STUCK_AFTER_SECONDS: "0",
      STUCK_SWEEP_INTERVAL_MS: "soon",
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems.join("\n");
  for (const key of ["JWT_PUBLIC_KEY", "PLEDGE_STUCK_AFTER_SECONDS", "STUCK_SWEEP_INTERVAL_MS"])
    expect(problems).toContain(key);
});
