// Account reads: the signed-in user's own profile, and the internal lookup by id that other
// services use through Eden (not exposed under /api by the gateway).
import { authGuard, IdParams, Problem, type TokenVerifier } from "@careforall/http";
import { Elysia } from "elysia";
import { AuthModel } from "../model";
import type { AuthService } from "../service";

const tags = ["auth"];

export function userRoutes(service: AuthService, verifier: TokenVerifier) {
  return new Elysia()
    .use(authGuard(verifier))
    .get("/me", ({ principal }) => service.getUser(principal.id), {
      auth: true,
      response: { 200: AuthModel.User, 401: Problem, 404: Problem },
      detail: { tags, summary: "The signed-in user" },
    })
    .get("/users/:id", ({ params }) => service.getUser(params.id), {
      params: IdParams,
      response: { 200: AuthModel.User, 400: Problem, 404: Problem },
      detail: { tags, summary: "Internal: look a user up by id" },
    });
}
