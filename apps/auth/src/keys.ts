// Auth's Ed25519 signing key pair: the private half mints access tokens (invariant 6: only
// auth can), the public half is published as a JWK Set for every verifier.
import { JWT_ALG, normalisePem } from "@careforall/http";
import { CompactSign, calculateJwkThumbprint, compactVerify, exportJWK, importPKCS8, importSPKI } from "jose";

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: typeof JWT_ALG;
  use: "sig";
}

export interface SigningKeys {
  privateKey: CryptoKey;
  publicKeyPem: string;
  /** RFC 7638 thumbprint of the public key; stable for a given key, sent as the JWT `kid`. */
  kid: string;
  jwk: PublicJwk;
}

/** Imports both halves and checks that they belong together, so a mismatch fails at start, not per request. */
export async function loadSigningKeys({
  privateKeyPem,
  publicKeyPem,
}: {
  privateKeyPem: string;
  publicKeyPem: string;
}): Promise<SigningKeys> {
  const publicPem = normalisePem(publicKeyPem);
  const privateKey = await importPKCS8(normalisePem(privateKeyPem), JWT_ALG);
  const publicKey = await importSPKI(publicPem, JWT_ALG, { extractable: true });
  const probe = await new CompactSign(new TextEncoder().encode("probe"))
    .setProtectedHeader({ alg: JWT_ALG })
    .sign(privateKey);
  try {
    await compactVerify(probe, publicKey, { algorithms: [JWT_ALG] });
  } catch {
    throw new Error("JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are not the same Ed25519 key pair");
  }
  const exported = await exportJWK(publicKey);
  if (exported.kty !== "OKP" || exported.crv !== "Ed25519" || !exported.x) {
    throw new Error("JWT_PUBLIC_KEY is not an Ed25519 key");
  }
  const kid = await calculateJwkThumbprint(exported);
  return {
    privateKey,
    publicKeyPem: publicPem,
    kid,
    jwk: { kty: exported.kty, crv: exported.crv, x: exported.x, kid, alg: JWT_ALG, use: "sig" },
  };
}
