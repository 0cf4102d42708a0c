// Request and response shapes of the auth routes: each TypeBox schema feeds validation, the
// Eden types the gateway compiles against and the OpenAPI document, with its same-named type.
import { t } from "elysia";

export namespace AuthModel {
  export const Role = t.Union([t.Literal("donor"), t.Literal("admin")]);
  export type Role = typeof Role.static;

  const email = t.String({ format: "email", maxLength: 254, description: "Case-insensitive; stored lower-cased" });

  export const RegisterBody = t.Object({
    email,
    password: t.String({ minLength: 8, maxLength: 128 }),
    name: t.String({ minLength: 1, maxLength: 80 }),
  });
  export type RegisterBody = typeof RegisterBody.static;

  // No length policy beyond the maximum: a login must not reveal the password rules.
  export const LoginBody = t.Object({
    email,
    password: t.String({ minLength: 1, maxLength: 128 }),
  });
  export type LoginBody = typeof LoginBody.static;

  export const RefreshBody = t.Object({
    refreshToken: t.String({ minLength: 1, maxLength: 512 }),
  });
  export type RefreshBody = typeof RefreshBody.static;

  export const User = t.Object({
    id: t.String({ format: "uuid" }),
    email: t.String(),
    name: t.String(),
    role: Role,
    bankAccountId: t.Union([t.String(), t.Null()]),
  });
  export type User = typeof User.static;

  export const Session = t.Object({
    user: User,
    accessToken: t.String({ description: "EdDSA-signed JWT; send as `Authorization: Bearer <accessToken>`" }),
    refreshToken: t.String({ description: "Opaque, single use: each refresh returns the next one" }),
    expiresIn: t.Integer({ description: "Seconds until the access token expires" }),
  });
  export type Session = typeof Session.static;

  export const Jwk = t.Object({
    kty: t.String(),
    crv: t.String(),
    x: t.String(),
    kid: t.String(),
    alg: t.Literal("EdDSA"),
    use: t.Literal("sig"),
  });
  export const JwkSet = t.Object({ keys: t.Array(Jwk) });
  export type JwkSet = typeof JwkSet.static;
}
