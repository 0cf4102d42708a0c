// Account reads: the signed-in user's own profile, and the internal lookup by id that other
// services use through Eden (not exposed under /api by the gateway).
import { authGuard, IdParams, Problem, serviceCallers, type TokenVerifier } from "@careforall/http";
import { Elysia } from "elysia";
import { AuthModel } from "../model";
import type { AuthService } from "../service";

const tags = ["auth"];

export function userRoutes(service: AuthService, verifier: TokenVerifier) {
  return (
    new Elysia()
      .use(authGuard(verifier))
      .use(serviceCallers)
      .get("/me", ({ principal }) => service.getUser(principal.id), {
        callers: ["gateway"],
        auth: true,
        response: { 200: AuthModel.User, 401: Problem, 404: Problem },
        detail: { tags, summary: "The signed-in user" },
      })
      // Anyone's email by id: an operator's lookup, through the gateway for an administrator.
      .get("/users/:id", ({ params }) => service.getUser(params.id), {
        callers: ["gateway"],
        admin: true,
        params: IdParams,
        response: { 200: AuthModel.User, 400: Problem, 404: Problem },
        detail: { tags, summary: "Internal: look a user up by id" },
      })
  );
}
