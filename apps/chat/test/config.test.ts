// The chat service's environment schema: its defaults (port 3107, 10 posts per 10 s) and fail-fast
// refusal of a bad value.
import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "@careforall/config";
import { ChatConfigSchema } from "../src/config";

const required = {
  JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAtest0123456789\n-----END PUBLIC KEY-----",
};

test("defaults: port 3107 and 10 posts per user per 10 s", () => {
  const config = parseConfig("chat", ChatConfigSchema, required);
  expect(config.PORT).toBe(3107);
  expect(config.CHAT_RATE_PER_10S).toBe(10);
  expect(parseConfig("chat", ChatConfigSchema, { ...required, CHAT_RATE_PER_10S: "0" }).CHAT_RATE_PER_10S).toBe(0);
});

test("a bad limit or a missing public key fails fast", () => {
  expect(() => parseConfig("chat", ChatConfigSchema, { ...required, CHAT_RATE_PER_10S: "-1" })).toThrow(ConfigError);
  expect(() => parseConfig("chat", ChatConfigSchema, { ...required, CHAT_RATE_PER_10S: "many" })).toThrow(ConfigError);
  expect(() => parseConfig("chat", ChatConfigSchema, {})).toThrow(ConfigError);
});
