// Attacks on the service-identity check of every internal route of an app: each route is called
// with no credential, garbage, an expired token, a token for another service, a token signed with
// the wrong key, and by every service the route does not name — and must refuse (401 / 403) —
// then by a service it names, which must get past the check (so refusing everything cannot pass).
import { expect } from "bun:test";
import { routeCallers, SERVICE_TOKEN_HEADER, SERVICES, type ServiceName } from "@careforall/http";
import { forgeServiceToken, serviceHeaders } from "./index";

const OPERATIONS = new Set(["/health", "/ready", "/metrics"]);
const CREDENTIAL = "https://careforall.dev/problems/service-credential";
const NOT_ACCEPTED = "https://careforall.dev/problems/caller-not-accepted";

interface RoutedApp {
  routes: ReadonlyArray<{ method: string; path: string; hooks?: unknown }>;
  handle(request: Request): Promise<Response>;
}

/** A concrete path for a route template (`:id` → a UUID), enough to reach the route. */
const concrete = (path: string) => path.replace(/:[^/]+/g, "01938f2e-6b1c-7c3e-9a4b-2f6d8e0a1b2c").replace(/\*$/, "x");

async function problemType(res: Response): Promise<string | undefined> {
  if (!res.headers.get("content-type")?.includes("problem+json")) return undefined;
  return ((await res.json()) as { type?: string }).type;
}

/**
 * Asserts the whole caller check of `app` (the service `audience`), and that `fingerprint` (the
 * service's data, hashed) is unchanged by every refused call: refused means no effect.
 * Returns the route table it checked (method, path, callers).
 */
export async function expectCallersEnforced(
  app: RoutedApp,
  audience: ServiceName,
  { fingerprint }: { fingerprint?: () => Promise<string> } = {},
): Promise<Array<{ route: string; callers: readonly ServiceName[] }>> {
  const routes = app.routes.filter((r) => !OPERATIONS.has(r.path));
  expect(routes.length).toBeGreaterThan(0);
  const now = Math.floor(Date.now() / 1000);
  const checked: Array<{ route: string; callers: readonly ServiceName[] }> = [];

  for (const route of routes) {
    const name = `${route.method} ${route.path}`;
    const callers = routeCallers(route);
    if (!callers || callers.length === 0) throw new Error(`${name} names no callers (add a \`callers\` option)`);
    checked.push({ route: name, callers });
    const allowed = callers[0] as ServiceName;
    const other = SERVICES.find((s) => s !== audience) as ServiceName;
    const send = (headers: Record<string, string>) =>
      app.handle(
        new Request(`http://localhost${concrete(route.path)}`, {
          method: route.method,
          headers: route.method === "GET" ? headers : { ...headers, "content-type": "application/json" },
          ...(route.method === "GET" ? {} : { body: "{}" }),
        }),
      );
    const refusedCredentials: Array<[string, Record<string, string>]> = [
      ["no credential", {}],
      ["garbage", { [SERVICE_TOKEN_HEADER]: "not-a-token" }],
      [
        "an expired token",
        {
          [SERVICE_TOKEN_HEADER]: await forgeServiceToken({
            caller: allowed,
            audience,
            issuedAt: now - 600,
            expiresAt: now - 540,
          }),
        },
      ],
      [
        "a token for another service",
        {
          [SERVICE_TOKEN_HEADER]: await forgeServiceToken({
            caller: allowed,
            audience: other,
            issuedAt: now,
            expiresAt: now + 60,
          }),
        },
      ],
      [
        "a token signed with another service's key",
        {
          [SERVICE_TOKEN_HEADER]: await forgeServiceToken({
            caller: allowed,
            audience,
            issuedAt: now,
            expiresAt: now + 60,
            signer: SERVICES.find((s) => s !== allowed) as ServiceName,
          }),
        },
      ],
    ];
    // Refused means no effect: the data is the same after every refused call of this route.
    const before = fingerprint ? await fingerprint() : "";
    for (const [what, headers] of refusedCredentials) {
      const res = await send(headers);
      expect({ route: name, with: what, status: res.status, type: await problemType(res) }).toEqual({
        route: name,
        with: what,
        status: 401,
        type: CREDENTIAL,
      });
    }
    for (const caller of SERVICES.filter((s) => !callers.includes(s))) {
      const res = await send(await serviceHeaders(audience, caller));
      expect({ route: name, caller, status: res.status, type: await problemType(res) }).toEqual({
        route: name,
        caller,
        status: 403,
        type: NOT_ACCEPTED,
      });
    }
    if (fingerprint) expect({ route: name, data: await fingerprint() }).toEqual({ route: name, data: before });
    for (const caller of callers) {
      const res = await send(await serviceHeaders(audience, caller));
      const type = await problemType(res);
      // Past the check: whatever the route answers to an empty body, it is not the caller check.
      expect({ route: name, caller, refusedByCallerCheck: type === CREDENTIAL || type === NOT_ACCEPTED }).toEqual({
        route: name,
        caller,
        refusedByCallerCheck: false,
      });
    }
  }
  return checked;
}

/**
 * A fingerprint of every table of a PostgreSQL schema (row contents hashed), for "no effect" checks.
 * `query` runs one SQL text and returns its rows.
 */
export async function schemaFingerprint(
  query: (text: string) => Promise<ReadonlyArray<Record<string, unknown>>>,
  schema: string,
): Promise<string> {
  if (!/^[a-z_]+$/.test(schema)) throw new Error(`not a schema name: ${schema}`);
  const tables = await query(
    `select table_name from information_schema.tables where table_schema = '${schema}' and table_type = 'BASE TABLE' order by 1`,
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const [row] = await query(
      `select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from "${schema}"."${String(table_name)}" t`,
    );
    parts.push(`${String(table_name)}:${String(row?.h)}`);
  }
  return parts.join(",");
}

const BANK_PAYMENT_PATHS = /^\/bank\/(authorize|capture|release|refund|holds)\b/;
/** The bank's operator routes: they act for an administrator (the admin's access token too). */
export const BANK_OPERATOR_PATHS = /^\/bank\/(faults|check-balance|accounts\/[^/]+\/transactions)\b/;

/** The service that calls a bank path in the platform: payment for holds, pledge for grants, else the gateway. */
export function bankCallerOf(path: string): ServiceName {
  if (BANK_PAYMENT_PATHS.test(path)) return "payment";
  if (path.startsWith("/bank/grants")) return "pledge";
  return "gateway";
}

/**
 * The credentials the platform's caller of a bank `path` sends: its service token, and an
 * administrator's access token on the operator routes (when `adminToken` is given).
 */
export async function bankCallHeaders(path: string, adminToken?: string): Promise<Record<string, string>> {
  const admin: Record<string, string> =
    adminToken && BANK_OPERATOR_PATHS.test(path) ? { authorization: `Bearer ${adminToken}` } : {};
  return { ...(await serviceHeaders("bank", bankCallerOf(path))), ...admin };
}

/** A fetch for tests that set a bank up over HTTP: each call carries what its real caller sends. */
export function bankTestFetch(adminToken?: string): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    for (const [k, v] of Object.entries(await bankCallHeaders(path, adminToken)))
      if (!headers.has(k)) headers.set(k, v);
    return fetch(input, { ...init, headers });
  }) as typeof fetch;
}
