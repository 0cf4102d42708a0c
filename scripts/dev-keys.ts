// Development signing keys: generated once into .data/keys (git-ignored) so tokens survive
// restarts of the local platform. Production supplies JWT_PRIVATE_KEY / JWT_PUBLIC_KEY instead.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateServiceKeySet, SERVICES, type ServiceKeySet } from "@careforall/http";
import { exportPKCS8, exportSPKI, generateKeyPair } from "jose";

/**
 * Every service's identity key pair (`services/<name>-private.pem` and `-public.pem`), generated once
 * like the JWT keys. Production supplies SERVICE_PRIVATE_KEY / SERVICE_TRUSTED_KEYS instead.
 */
export async function ensureDevServiceKeys(dir: string): Promise<ServiceKeySet> {
  const folder = join(dir, "services");
  const file = (name: string, half: "private" | "public") => join(folder, `${name}-${half}.pem`);
  if (SERVICES.every((name) => existsSync(file(name, "private")) && existsSync(file(name, "public")))) {
    return Object.fromEntries(
      SERVICES.map((name) => [
        name,
        {
          privateKeyPem: readFileSync(file(name, "private"), "utf8"),
          publicKeyPem: readFileSync(file(name, "public"), "utf8"),
        },
      ]),
    ) as ServiceKeySet;
  }
  mkdirSync(folder, { recursive: true });
  const keys = await generateServiceKeySet();
  for (const name of SERVICES) {
    writeFileSync(file(name, "private"), keys[name].privateKeyPem, { mode: 0o600 });
    writeFileSync(file(name, "public"), keys[name].publicKeyPem);
  }
  return keys;
}

export async function ensureDevKeys(dir: string): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const priv = join(dir, "jwt-private.pem");
  const pub = join(dir, "jwt-public.pem");
  if (existsSync(priv) && existsSync(pub)) {
    return { privateKeyPem: readFileSync(priv, "utf8"), publicKeyPem: readFileSync(pub, "utf8") };
  }
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const keys = { privateKeyPem: await exportPKCS8(privateKey), publicKeyPem: await exportSPKI(publicKey) };
  writeFileSync(priv, keys.privateKeyPem, { mode: 0o600 });
  writeFileSync(pub, keys.publicKeyPem);
  return keys;
}
