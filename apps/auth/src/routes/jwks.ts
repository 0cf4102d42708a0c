// The public signing key as a JWK Set, so verifiers can fetch it instead of being configured
// with a PEM; cacheable, it changes only when the key is rotated.
import { Elysia } from "elysia";
import { AuthModel } from "../model";
import type { AuthService } from "../service";

export function jwksRoutes(service: AuthService) {
  return new Elysia().get(
    "/.well-known/jwks.json",
    async ({ set }) => {
      set.headers["cache-control"] = "public, max-age=300";
      return service.jwks();
    },
    {
      response: { 200: AuthModel.JwkSet },
      detail: { tags: ["auth"], summary: "Public key set for verifying access tokens" },
    },
  );
}
