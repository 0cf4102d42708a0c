// /api/auth/* and /api/me: validated here, rate limited per IP and per email in Redis, then
// forwarded to the auth service through its Eden client.
import type { AuthApp } from "@careforall/auth";
import { AuthModel } from "@careforall/auth";
import type { RateLimiter } from "@careforall/cache";
import { Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import { enforceLimits } from "../rate-limit";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

const detail = (summary: string, secured = false) => ({
  tags: ["auth"],
  summary,
  ...(secured ? { security: [{ bearer: [] }] } : {}),
});

export interface AuthRoutesDeps {
  auth: Treaty.Create<AuthApp>;
  limiter: RateLimiter;
  limitPerMinute: number;
  log: Logger;
  context: GatewayContext;
}

export function authRoutes({ auth, limiter, limitPerMinute, log, context }: AuthRoutesDeps) {
  const limit = (keys: string[]) => enforceLimits(limiter, log, keys, limitPerMinute);
  const email = (e: string) => e.trim().toLowerCase();

  return new Elysia({ name: "gateway-auth-routes" })
    .use(context)
    .post(
      "/api/auth/register",
      async ({ body, requestId, ip, status }) => {
        await limit([`auth:register:ip:${ip}`, `auth:register:email:${email(body.email)}`]);
        const res = await call(log, "auth", auth.auth.register.post(body, { headers: upstreamHeaders(requestId) }));
        return status(201, res.data as AuthModel.Session);
      },
      {
        body: AuthModel.RegisterBody,
        response: { 201: AuthModel.Session, 400: Problem, 409: Problem, 413: Problem, 429: Problem },
        detail: detail("Create a donor account and sign in"),
      },
    )
    .post(
      "/api/auth/login",
      async ({ body, requestId, ip }) => {
        await limit([`auth:login:ip:${ip}`, `auth:login:email:${email(body.email)}`]);
        const res = await call(log, "auth", auth.auth.login.post(body, { headers: upstreamHeaders(requestId) }));
        return res.data as AuthModel.Session;
      },
      {
        body: AuthModel.LoginBody,
        response: { 200: AuthModel.Session, 400: Problem, 401: Problem, 429: Problem },
        detail: detail("Sign in with email and password"),
      },
    )
    .post(
      "/api/auth/refresh",
      async ({ body, requestId, ip }) => {
        await limit([`auth:refresh:ip:${ip}`]);
        const res = await call(log, "auth", auth.auth.refresh.post(body, { headers: upstreamHeaders(requestId) }));
        return res.data as AuthModel.Session;
      },
      {
        body: AuthModel.RefreshBody,
        response: { 200: AuthModel.Session, 400: Problem, 401: Problem, 429: Problem },
        detail: detail("Rotate a refresh token (a reused one revokes its whole family)"),
      },
    )
    .post(
      "/api/auth/logout",
      async ({ body, requestId, set }) => {
        await call(log, "auth", auth.auth.logout.post(body, { headers: upstreamHeaders(requestId) }));
        set.status = 204;
      },
      {
        body: AuthModel.RefreshBody,
        response: { 204: t.Void({ description: "No content" }), 400: Problem },
        detail: detail("Revoke a refresh token's family"),
      },
    )
    .get(
      "/api/me",
      async ({ requestId, headers }) => {
        const res = await call(
          log,
          "auth",
          auth.me.get({ headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as AuthModel.User;
      },
      {
        auth: true,
        response: { 200: AuthModel.User, 401: Problem, 404: Problem },
        detail: detail("The signed-in user", true),
      },
    );
}
