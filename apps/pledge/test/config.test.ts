// The pledge service's environment schema: the test-only OUTBOX_RELAY_ENABLED switch defaults
// to on (production never sets it), converts from its string form, and refuses anything else.
import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "@careforall/config";
import { PledgeConfigSchema } from "../src/config";

const required = {
  JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest0123456789\n-----END PUBLIC KEY-----",
};

test("the outbox relay runs unless OUTBOX_RELAY_ENABLED says otherwise", () => {
  expect(parseConfig("pledge", PledgeConfigSchema, required).OUTBOX_RELAY_ENABLED).toBe(true);
  expect(
    parseConfig("pledge", PledgeConfigSchema, { ...required, OUTBOX_RELAY_ENABLED: "" }).OUTBOX_RELAY_ENABLED,
  ).toBe(true);
  expect(
    parseConfig("pledge", PledgeConfigSchema, { ...required, OUTBOX_RELAY_ENABLED: "false" }).OUTBOX_RELAY_ENABLED,
  ).toBe(false);
  expect(
    parseConfig("pledge", PledgeConfigSchema, { ...required, OUTBOX_RELAY_ENABLED: "true" }).OUTBOX_RELAY_ENABLED,
  ).toBe(true);
});

test("a value that is not a boolean fails fast", () => {
  expect(() => parseConfig("pledge", PledgeConfigSchema, { ...required, OUTBOX_RELAY_ENABLED: "sometimes" })).toThrow(
    ConfigError,
  );
});
