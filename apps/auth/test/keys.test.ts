import { describe, expect, test } from "bun:test";
import { createTestKeys } from "@careforall/testkit";
import { loadSigningKeys } from "../src/keys";

describe("loadSigningKeys", () => {
  test("accepts PEMs whose newlines arrive as literal \\n (as environment variables often carry them)", async () => {
    const pair = await createTestKeys();
    const escaped = {
      privateKeyPem: pair.privateKeyPem.replaceAll("\n", "\\n"),
      publicKeyPem: pair.publicKeyPem.replaceAll("\n", "\\n"),
    };
    const keys = await loadSigningKeys(escaped);
    const plain = await loadSigningKeys(pair);
    expect(keys.kid).toBe(plain.kid);
    expect(keys.jwk).toEqual({ kty: "OKP", crv: "Ed25519", x: plain.jwk.x, kid: plain.kid, alg: "EdDSA", use: "sig" });
  });

  test("refuses a private and a public key that are not one pair", async () => {
    const [a, b] = await Promise.all([createTestKeys(), createTestKeys()]);
    await expect(loadSigningKeys({ privateKeyPem: a.privateKeyPem, publicKeyPem: b.publicKeyPem })).rejects.toThrow(
      "not the same Ed25519 key pair",
    );
  });

  test("refuses a PEM that is not a key", async () => {
    const pair = await createTestKeys();
    await expect(loadSigningKeys({ ...pair, privateKeyPem: "not a pem at all, but long enough" })).rejects.toThrow();
  });
});
