// The public signing key as a JWK Set, so verifiers can fetch it instead of being configured
// with a PEM; cacheable, it changes only when the key is rotated.
import { SERVICES, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { AuthModel } from "../model";
import type { AuthService } from "../service";

export function jwksRoutes(service: AuthService) {
  // Public keys are no secret, but this is an internal origin: any of our services may fetch them.
  return new Elysia().use(serviceCallers).get(
    "/.well-known/jwks.json",
    async ({ set }) => {
      set.headers["cache-control"] = "public, max-age=300";
      return service.jwks();
    },
    {
      callers: SERVICES,
      response: { 200: AuthModel.JwkSet },
      detail: { tags: ["auth"], summary: "Public key set for verifying access tokens" },
    },
  );
}
