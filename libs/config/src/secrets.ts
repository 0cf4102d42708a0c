// Secrets in configuration, one rule for every service: a secret may default to a development
// value so `./cfa start` needs no set-up, and with NODE_ENV=production parseConfig refuses it.
// Invariant 7 ("production refuses development secrets") is enforced here and nowhere else.
import { type TObject, type TString, Type } from "@sinclair/typebox";

/**
 * Every development default of a secret, in one place. Production refuses each of them in any
 * secret setting (a development webhook secret pasted as a grant secret is still known to all).
 */
export const DEVELOPMENT_SECRETS = {
  WEBHOOK_SECRET: "dev-webhook-secret-0123456789",
  GRANT_SECRET: "dev-grant-secret-0123456789",
  DONOR_KEY_SECRET: "dev-donor-key-secret-0123456789",
  ADMIN_PASSWORD: "admin-dev-password",
} as const;

/** The schema keyword that marks a field as a secret (read by productionProblems). */
const SECRET = "x-secret";

/** Production's shortest secret unless a field says otherwise: 32 characters (≥ 128 bits of a random key). */
export const PRODUCTION_SECRET_MIN_LENGTH = 32;

interface SecretRule {
  productionMinLength: number;
}

export interface SecretOptions {
  description?: string;
  /** The value outside production when the setting is unset; production refuses it. */
  development?: string;
  /** The shortest value accepted in any environment (default 16). */
  minLength?: number;
  maxLength?: number;
  /** The shortest value production accepts (default PRODUCTION_SECRET_MIN_LENGTH). */
  productionMinLength?: number;
}

const developmentValues = new Set<string>(Object.values(DEVELOPMENT_SECRETS));

/** A secret setting: a string that production requires set explicitly, long enough and not a development value. */
export function Secret(options: SecretOptions = {}): TString {
  if (options.development !== undefined) developmentValues.add(options.development);
  const rule: SecretRule = { productionMinLength: options.productionMinLength ?? PRODUCTION_SECRET_MIN_LENGTH };
  return Type.String({
    minLength: options.minLength ?? 16,
    ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}),
    ...(options.development !== undefined ? { default: options.development } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    [SECRET]: rule,
  });
}

/** True for a value that is (or is derived from) a development default. */
export function isDevelopmentSecret(value: string): boolean {
  return developmentValues.has(value.trim());
}

/** The names of a schema's secret settings. */
export function secretKeys(schema: TObject): string[] {
  return Object.entries(schema.properties)
    .filter(([, field]) => (field as Record<string, unknown>)[SECRET] !== undefined)
    .map(([key]) => key);
}

/**
 * What production refuses in `env` for `schema`, one line per problem naming the setting and why:
 * a secret left unset (its development default would apply), a development value, one shorter
 * than production's minimum, or the same value in two secret settings. Empty when all is well.
 */
export function productionProblems(schema: TObject, env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const key of secretKeys(schema)) {
    const rule = (schema.properties[key] as unknown as Record<string, SecretRule>)[SECRET]!;
    const value = env[key];
    if (value === undefined || value === "") {
      problems.push(`${key}: not set; production needs its own secret (the development default is refused)`);
      continue;
    }
    if (isDevelopmentSecret(value)) {
      problems.push(`${key}: is a development value, known to anyone with the source; production refuses it`);
      continue;
    }
    if (value.length < rule.productionMinLength) {
      problems.push(
        `${key}: too short for production (${value.length} characters; at least ${rule.productionMinLength})`,
      );
    }
    const twin = seen.get(value);
    if (twin) problems.push(`${key}: the same value as ${twin}; production needs a separate secret for each`);
    else seen.set(value, key);
  }
  return problems;
}
