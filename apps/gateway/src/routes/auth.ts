// /api/auth/* and /api/me: validated here, rate limited in Redis (register per IP and per email,
// login failures per IP and per IP + email, refresh per IP), then forwarded to the auth service
// through its Eden client.
import type { AuthApp } from "@careforall/auth";
import { AuthModel } from "@careforall/auth";
import type { RateLimiter } from "@careforall/cache";
import { Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { enforceLimitSet, enforceLimits, loginLimits, releaseLimits } from "../rate-limit";
import { call, UpstreamProblem, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

const LIMITED =
  "Rate limited per IP address and per email (`RATE_LIMIT_AUTH` a minute): past it, `429` with `Retry-After`.";
const LOGIN_LIMITED =
  "Failed logins are limited per IP address (`RATE_LIMIT_AUTH` a minute, across all emails) and per IP address " +
  "and email together (`RATE_LIMIT_LOGIN_PER_ACCOUNT`, default 5); a successful login does not count. Past " +
  "either, `429` with `Retry-After`, even for the right password. There is no limit per email alone, so someone " +
  "failing logins for your email from their address cannot lock you out of yours.";

export interface AuthRoutesDeps {
  auth: Treaty.Create<AuthApp>;
  limiter: RateLimiter;
  limitPerMinute: number;
  /** Failed logins a minute for one email from one IP address. */
  loginFailuresPerAccount: number;
  log: Logger;
  context: GatewayContext;
}

export function authRoutes({ auth, limiter, limitPerMinute, loginFailuresPerAccount, log, context }: AuthRoutesDeps) {
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
        detail: operation({
          id: "register",
          tag: "auth",
          summary: "Create a donor account and sign in",
          description:
            "Creates a donor (never an admin, whatever the body says) and their bank account, and answers a " +
            "session. The email is matched case-insensitively: one already registered → `409`. The name is " +
            `shown on donations unless a pledge is anonymous; any script is welcome. ${LIMITED}`,
          access: "public",
          requestExample: examples.register,
          responseExample: examples.session,
        }),
      },
    )
    .post(
      "/api/auth/login",
      async ({ body, requestId, ip }) => {
        const limits = loginLimits(ip, email(body.email), limitPerMinute, loginFailuresPerAccount);
        await enforceLimitSet(limiter, log, limits);
        try {
          const res = await call(log, "auth", auth.auth.login.post(body, { headers: upstreamHeaders(requestId) }));
          await releaseLimits(limiter, log, limits);
          return res.data as AuthModel.Session;
        } catch (err) {
          // Only wrong credentials stay counted; an outage is not the client's failure.
          if (!(err instanceof UpstreamProblem && err.status === 401)) await releaseLimits(limiter, log, limits);
          throw err;
        }
      },
      {
        body: AuthModel.LoginBody,
        response: { 200: AuthModel.Session, 400: Problem, 401: Problem, 429: Problem },
        detail: operation({
          id: "login",
          tag: "auth",
          summary: "Sign in with email and password",
          description:
            "Answers a session: an access token for 15 minutes and a single-use refresh token. A wrong password " +
            `and an unknown email get the same \`401\`. ${LOGIN_LIMITED}`,
          access: "public",
          requestExample: examples.login,
          responseExample: examples.session,
        }),
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
        detail: operation({
          id: "refreshSession",
          tag: "auth",
          summary: "Trade a refresh token for a new session",
          description:
            "Each refresh token works once and answers the next one. A token used twice means it was stolen: the " +
            "whole family is revoked, its access tokens get `401` at once, and both holders must sign in again. " +
            "Rate limited per IP address.",
          access: "public",
          requestExample: examples.refresh,
          responseExample: examples.session,
        }),
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
        detail: operation({
          id: "logout",
          tag: "auth",
          summary: "Sign out: revoke a refresh token's family",
          description:
            "Always `204`, also for an unknown or already revoked token, so it reveals nothing. The session's access " +
            "tokens end with it: from now on they get `401` everywhere. The user's other sessions keep working.",
          access: "public",
          requestExample: examples.refresh,
        }),
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
        detail: operation({
          id: "getMe",
          tag: "auth",
          summary: "The signed-in user",
          description: "The user the access token names, with their bank account's id (null while it is being opened).",
          access: "bearer",
          responseExample: examples.user,
        }),
      },
    );
}
