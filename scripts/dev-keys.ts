// Development signing keys: generated once into .data/keys (git-ignored) so tokens survive
// restarts of the local platform. Production supplies JWT_PRIVATE_KEY / JWT_PUBLIC_KEY instead.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportPKCS8, exportSPKI, generateKeyPair } from "jose";

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
