// Session routes: register, login, refresh and logout. The gateway maps /api/auth/* here and
// applies the rate limits; this layer only validates and delegates to the service.
import { Problem, serviceCallers } from "@careforall/http";
import { Elysia, t } from "elysia";
import { AuthModel } from "../model";
import type { AuthService } from "../service";

const tags = ["auth"];

export function authRoutes(service: AuthService) {
  // Only the gateway (the public origin, which rate-limits these) starts and ends sessions.
  return new Elysia({ prefix: "/auth" })
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .post("/register", async ({ body, status }) => status(201, await service.register(body)), {
      body: AuthModel.RegisterBody,
      response: { 201: AuthModel.Session, 400: Problem, 409: Problem },
      detail: { tags, summary: "Create a donor account and start a session" },
    })
    .post("/login", ({ body }) => service.login(body), {
      body: AuthModel.LoginBody,
      response: { 200: AuthModel.Session, 400: Problem, 401: Problem },
      detail: { tags, summary: "Start a session with email and password" },
    })
    .post("/refresh", ({ body }) => service.refresh(body.refreshToken), {
      body: AuthModel.RefreshBody,
      response: { 200: AuthModel.Session, 400: Problem, 401: Problem },
      detail: {
        tags,
        summary: "Rotate a refresh token into a new session; reusing a spent token revokes its whole family",
      },
    })
    .post(
      "/logout",
      async ({ body, status }) => {
        await service.logout(body.refreshToken);
        return status(204, undefined);
      },
      {
        body: AuthModel.RefreshBody,
        response: { 204: t.Void({ description: "Signed out (also for unknown tokens)" }), 400: Problem },
        detail: { tags, summary: "End the session: revoke the refresh token's family" },
      },
    );
}
