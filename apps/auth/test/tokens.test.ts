import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTokenVerifier } from "@careforall/http";
import { createTestKeys } from "@careforall/testkit";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importPKCS8, jwtVerify, SignJWT } from "jose";
import type { AuthModel } from "../src/app";
import { type Harness, problem, startAuth } from "./support";

let h: Harness;
let session: AuthModel.Session;

beforeAll(async () => {
  h = await startAuth();
  ({ session } = await h.register());
});
afterAll(async () => {
  await h?.close();
});

async function signWith(privateKeyPem: string, claims: Record<string, unknown>, exp: number) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA" })
    .setSubject(session.user.id)
    .setIssuer(h.config.JWT_ISSUER)
    .setIssuedAt(exp - 900)
    .setExpirationTime(exp)
    .sign(await importPKCS8(privateKeyPem, "EdDSA"));
}
const nowSeconds = () => Math.floor(Date.now() / 1000);
const claims = () => ({ email: session.user.email, name: session.user.name, role: session.user.role });

describe("access tokens", () => {
  test("verify with the shared verifier and carry sub, email, name, role, sid, iss, iat, exp = iat + 15 min, jti", async () => {
    const verifier = createTokenVerifier({ publicKeyPem: h.keys.publicKeyPem, issuer: "careforall-auth" });
    const payload = decodeJwt(session.accessToken);
    expect(typeof payload.sid).toBe("string");
    expect(await verifier.verify(session.accessToken)).toEqual({
      id: session.user.id,
      email: session.user.email,
      name: session.user.name,
      role: "donor",
      sessionId: payload.sid as string,
    });
    expect(payload.iss).toBe("careforall-auth");
    expect(payload.sub).toBe(session.user.id);
    expect(typeof payload.jti).toBe("string");
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(Math.abs((payload.exp ?? 0) - (nowSeconds() + 900))).toBeLessThanOrEqual(5);
    expect(decodeProtectedHeader(session.accessToken)).toMatchObject({ alg: "EdDSA", typ: "JWT" });
  });

  test("the JWKS endpoint publishes a key that verifies issued tokens", async () => {
    const res = await h.get("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const jwks = await res.json();
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect([key.kty, key.crv, key.alg, key.use]).toEqual(["OKP", "Ed25519", "EdDSA", "sig"]);
    expect(key.d).toBeUndefined();
    expect(decodeProtectedHeader(session.accessToken).kid).toBe(key.kid);
    const { payload } = await jwtVerify(session.accessToken, createLocalJWKSet(jwks), {
      issuer: "careforall-auth",
      algorithms: ["EdDSA"],
    });
    expect(payload.sub).toBe(session.user.id);
  });
});

describe("GET /me", () => {
  test("with a valid token → the User", async () => {
    const res = await h.get("/me", session.accessToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...session.user, bankAccountId: null });
  });

  test("without a token → 401", async () => {
    const res = await h.get("/me");
    await problem(res, 401);
  });

  test("an expired token → 401", async () => {
    const expired = await signWith(h.keys.privateKeyPem, claims(), nowSeconds() - 60);
    await problem(await h.get("/me", expired), 401);
  });

  test("a token signed by another key → 401", async () => {
    const other = await createTestKeys();
    const forged = await signWith(other.privateKeyPem, { ...claims(), role: "admin" }, nowSeconds() + 600);
    await problem(await h.get("/me", forged), 401);
  });

  test("an `alg: none` token → 401", async () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const unsigned = `${enc({ alg: "none", typ: "JWT" })}.${enc({
      ...claims(),
      sub: session.user.id,
      iss: h.config.JWT_ISSUER,
      exp: nowSeconds() + 600,
    })}.`;
    await problem(await h.get("/me", unsigned), 401);
  });

  test("a token from another issuer → 401", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject(session.user.id)
      .setIssuer("someone-else")
      .setExpirationTime(nowSeconds() + 600)
      .sign(await importPKCS8(h.keys.privateKeyPem, "EdDSA"));
    await problem(await h.get("/me", token), 401);
  });

  test("a valid token for a user that no longer exists → 404", async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject(Bun.randomUUIDv7())
      .setIssuer(h.config.JWT_ISSUER)
      .setExpirationTime(nowSeconds() + 600)
      .sign(await importPKCS8(h.keys.privateKeyPem, "EdDSA"));
    await problem(await h.get("/me", token), 404);
  });
});

describe("GET /users/:id", () => {
  test("→ the User for a known id", async () => {
    const res = await h.get(`/users/${session.user.id}`, await h.adminToken());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(session.user);
  });

  test("→ 404 problem for an unknown id", async () => {
    await problem(await h.get(`/users/${Bun.randomUUIDv7()}`, await h.adminToken()), 404);
  });

  test("→ 401 without an administrator's token, 403 for a donor: nobody else reads emails by id", async () => {
    await problem(await h.get(`/users/${session.user.id}`), 401);
    await problem(await h.get(`/users/${session.user.id}`, session.accessToken), 403);
  });
});

describe("operations", () => {
  test("/health is up and /ready reports PostgreSQL", async () => {
    expect(await (await h.get("/health")).json()).toEqual({ status: "ok", service: "auth", pid: process.pid });
    expect(await (await h.get("/ready")).json()).toEqual({
      status: "ready",
      service: "auth",
      checks: { postgres: "up" },
    });
  });

  test("/metrics counts auth outcomes", async () => {
    await h.post("/auth/login", { email: session.user.email, password: "definitely wrong" });
    const text = await (await h.get("/metrics")).text();
    expect(text).toContain('careforall_auth_operations_total{operation="register",outcome="ok",service="auth"} 1');
    expect(text).toMatch(
      /careforall_auth_operations_total\{operation="login",outcome="invalid",service="auth"\} [1-9]/,
    );
  });

  test("an unknown route → 404 problem carrying a request id", async () => {
    const res = await h.get("/nope");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    await problem(res, 404);
  });
});
