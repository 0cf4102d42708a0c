// The typed API client: Eden Treaty over the gateway's own app type, so every path, body and answer
// is checked by the compiler. Its fetch adds the access token, and on a 401 refreshes once (shared by
// every call in flight) and retries; a refused refresh ends the session and the call goes on as a guest's.
import type { GatewayApp } from "@careforall/gateway";
import { treaty } from "@elysiajs/eden";
import type { KeyValue } from "../lib/storage";
import { browserLock, createSession, type SessionBody } from "./session";

export interface ApiDeps {
  baseUrl: string;
  fetch?: typeof fetch;
  storage: KeyValue;
  now?: () => number;
  lock?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

const AUTH_PATHS = /\/api\/auth\/(login|register|refresh|logout)$/;

export function createApi(deps: ApiDeps) {
  const base = deps.fetch ?? globalThis.fetch.bind(globalThis);
  const session = createSession({
    storage: deps.storage,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.lock ? { lock: deps.lock } : {}),
    async refresh(refreshToken) {
      const res = await base(`${deps.baseUrl}/api/auth/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken }),
      });
      if (res.status === 401 || res.status === 400) return null;
      if (!res.ok) throw new Error(`refresh answered ${res.status}`);
      return (await res.json()) as SessionBody;
    },
  });

  const send = (input: RequestInfo | URL, init: RequestInit | undefined, token: string | null) => {
    const headers = new Headers(init?.headers);
    if (token && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
    return base(input, { ...init, headers });
  };

  const authed = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (AUTH_PATHS.test(new URL(url, "http://x").pathname)) return base(input, init);
    const token = await session.accessToken().catch(() => null);
    const res = await send(input, init, token);
    if (res.status !== 401 || !token) return res;
    // The token was refused (expired early, session ended elsewhere): one refresh, one retry.
    const fresh = await session.refreshNow().catch(() => null);
    return send(input, init, fresh);
  }) as typeof fetch;

  const client = treaty<GatewayApp>(deps.baseUrl, { fetcher: authed, parseDate: false });
  return { client: client.api, session, fetch: authed };
}

export type Api = ReturnType<typeof createApi>;

export function browserApi(): Api {
  return createApi({
    baseUrl: globalThis.location.origin,
    storage: globalThis.localStorage,
    lock: browserLock(),
  });
}
