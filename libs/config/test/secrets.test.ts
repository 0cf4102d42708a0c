// The production rule for secrets (issue 8): with NODE_ENV=production parseConfig refuses a secret
// left unset, a development value, one too short, or one value in two secret settings — one line
// per problem naming the setting — and outside production the development defaults apply.
import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  commonConfig,
  DEVELOPMENT_SECRETS,
  isDevelopmentSecret,
  parseConfig,
  productionProblems,
  Secret,
  secretKeys,
  T,
} from "../src/index";

const Schema = T.Object({
  ...commonConfig,
  SIGNING_SECRET: Secret({ development: "dev-signing-secret-0123456789" }),
  OTHER_SECRET: Secret({ development: "dev-other-secret-0123456789", productionMinLength: 40 }),
  PLAIN: T.String({ default: "plain" }),
});

const strong = () => `${crypto.randomUUID()}${crypto.randomUUID()}`;

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig("svc", Schema, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe("outside production", () => {
  test("the development defaults apply and nothing is refused", () => {
    for (const NODE_ENV of ["development", "test"]) {
      const config = parseConfig("svc", Schema, { NODE_ENV });
      expect(config.SIGNING_SECRET).toBe("dev-signing-secret-0123456789");
      expect(config.OTHER_SECRET).toBe("dev-other-secret-0123456789");
    }
    expect(parseConfig("svc", Schema, {}).NODE_ENV).toBe("development");
  });
});

describe("NODE_ENV=production", () => {
  test("secrets left unset: one problem each, naming the setting", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toStartWith("SIGNING_SECRET: not set");
    expect(problems[1]).toStartWith("OTHER_SECRET: not set");
  });

  test("a development value is refused, its own or another secret's", () => {
    const problems = problemsOf({
      NODE_ENV: "production",
      SIGNING_SECRET: "dev-signing-secret-0123456789",
      OTHER_SECRET: DEVELOPMENT_SECRETS.WEBHOOK_SECRET,
    });
    expect(problems).toEqual([
      expect.stringMatching(/^SIGNING_SECRET: is a development value/),
      expect.stringMatching(/^OTHER_SECRET: is a development value/),
    ]);
  });

  test("too short for production (its own minimum or the default 32), and one value twice", () => {
    const same = strong();
    expect(
      problemsOf({ NODE_ENV: "production", SIGNING_SECRET: "a".repeat(20), OTHER_SECRET: "b".repeat(39) }),
    ).toEqual([
      "SIGNING_SECRET: too short for production (20 characters; at least 32)",
      "OTHER_SECRET: too short for production (39 characters; at least 40)",
    ]);
    expect(problemsOf({ NODE_ENV: "production", SIGNING_SECRET: same, OTHER_SECRET: same })).toEqual([
      "OTHER_SECRET: the same value as SIGNING_SECRET; production needs a separate secret for each",
    ]);
  });

  test("strong values of its own: accepted", () => {
    const env = { NODE_ENV: "production", SIGNING_SECRET: strong(), OTHER_SECRET: strong() };
    expect(problemsOf(env)).toEqual([]);
    expect(parseConfig("svc", Schema, env).SIGNING_SECRET).toBe(env.SIGNING_SECRET);
  });

  test("schema problems and production problems are reported together", () => {
    const problems = problemsOf({ NODE_ENV: "production", LOG_LEVEL: "loud" });
    expect(problems.some((p) => p.startsWith("LOG_LEVEL"))).toBe(true);
    expect(problems.some((p) => p.startsWith("SIGNING_SECRET: not set"))).toBe(true);
  });
});

test("the rule's pieces: secretKeys, isDevelopmentSecret, productionProblems", () => {
  expect(secretKeys(Schema)).toEqual(["SIGNING_SECRET", "OTHER_SECRET"]);
  for (const value of Object.values(DEVELOPMENT_SECRETS)) expect(isDevelopmentSecret(value)).toBe(true);
  expect(isDevelopmentSecret("dev-signing-secret-0123456789")).toBe(true);
  expect(isDevelopmentSecret(strong())).toBe(false);
  expect(productionProblems(Schema, { SIGNING_SECRET: strong(), OTHER_SECRET: strong() })).toEqual([]);
});
