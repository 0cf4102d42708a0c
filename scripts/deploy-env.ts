// `./cfa deploy-env [--out <file>] [--force]`: writes the .env compose.yaml needs — a fresh random
// password per service and server, fresh Ed25519 keys (auth's token key pair, one service key pair
// per service) and the webhook, grant and donor-key secrets — so `docker compose up` works after
// one command. Refuses to replace an existing file unless --force: PostgreSQL creates its roles
// with these passwords on its first start only, so new ones lock the services out of its data.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateServiceKeySet, SERVICES, trustedKeysJson } from "@careforall/http";
import { exportPKCS8, exportSPKI, generateKeyPair } from "jose";

/** The services with a PostgreSQL role (the gateway keeps nothing in PostgreSQL). */
export const DATABASE_SERVICES = ["auth", "campaign", "pledge", "payment", "bank", "notification", "chat"] as const;
/** The services with a Redis user (deploy/redis/users.acl). */
export const REDIS_SERVICES = ["gateway", "auth", "notification", "chat"] as const;

/**
 * 32 random bytes as hex, after a letter: URL-safe (the passwords go into DATABASE_URL and the like)
 * and ≥ 32 characters. The letter matters: nats-server parses a `$VAR` reference as a config value,
 * so a password that starts with a digit is read as a number and the server refuses to start.
 */
export const secret = () => `s${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}`;

/** Every variable compose.yaml reads, freshly generated. */
export async function generateDeployEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = { POSTGRES_PASSWORD: secret() };
  for (const s of DATABASE_SERVICES) env[`${s.toUpperCase()}_DB_PASSWORD`] = secret();
  for (const s of REDIS_SERVICES) env[`${s.toUpperCase()}_REDIS_PASSWORD`] = secret();
  for (const s of SERVICES) env[`${s.toUpperCase()}_NATS_PASSWORD`] = secret();

  const jwt = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  env.JWT_PRIVATE_KEY = await exportPKCS8(jwt.privateKey);
  env.JWT_PUBLIC_KEY = await exportSPKI(jwt.publicKey);
  const serviceKeys = await generateServiceKeySet();
  for (const s of SERVICES) env[`${s.toUpperCase()}_SERVICE_PRIVATE_KEY`] = serviceKeys[s].privateKeyPem;
  env.SERVICE_TRUSTED_KEYS = trustedKeysJson(serviceKeys);

  env.WEBHOOK_SECRET = secret();
  env.GRANT_SECRET = secret();
  env.DONOR_KEY_SECRET = secret();
  env.ADMIN_EMAIL = "admin@careforall.local";
  env.ADMIN_PASSWORD = secret();
  // Grafana's `admin` (the observability profile).
  env.GRAFANA_ADMIN_PASSWORD = secret();
  // The demo bank (demo accounts, fixed test accounts) stays closed unless this says "on".
  env.DEMO_BANK = "off";
  return env;
}

/**
 * As a compose .env file: one line per variable. PEMs go in double quotes with `\n` for their line
 * breaks (compose turns them back into newlines); JSON in single quotes (taken literally, so its
 * own `\n` escapes reach JSON.parse); everything else is bare (hex, an email, a word).
 */
export function renderEnvFile(env: Record<string, string>, now = new Date()): string {
  const line = ([key, value]: [string, string]) => {
    if (value.includes("\n")) {
      if (/["\\$]/.test(value)) throw new Error(`${key}: a multi-line value with ", \\ or $ cannot be written`);
      return `${key}="${value.trim().replaceAll("\n", "\\n")}"`;
    }
    if (/^[A-Za-z0-9@._:/+=-]*$/.test(value)) return `${key}=${value}`;
    if (value.includes("'")) throw new Error(`${key}: a value with ' cannot be written`);
    return `${key}='${value}'`;
  };
  return [
    `# Written by ./cfa deploy-env at ${now.toISOString()} for compose.yaml. Private: never commit it`,
    "# (.gitignore lists it). PostgreSQL creates its roles with these passwords on its first start only.",
    ...Object.entries(env).map(line),
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { out: { type: "string", default: join(import.meta.dir, "..", ".env") }, force: { type: "boolean" } },
  });
  const out = values.out as string;
  if (existsSync(out) && !values.force) {
    console.error(
      `${out} exists: keeping it (its passwords are the ones PostgreSQL was set up with). ` +
        "Run with --force to replace it, then start with fresh volumes (docker compose down -v).",
    );
    process.exit(1);
  }
  writeFileSync(out, renderEnvFile(await generateDeployEnv()), { mode: 0o600 });
  console.log(
    `wrote ${out}: fresh passwords and keys for compose.yaml; next: docker compose up -d --build --wait ` +
      "(optional settings: .env.example)",
  );
}
