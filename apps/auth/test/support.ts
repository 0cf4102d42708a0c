// Test harness: a fresh PostgreSQL database per test file, migrated with the committed
// migrations, and the auth app called in-process through app.handle().
import { expect } from "bun:test";
import { join } from "node:path";
import { type Clock, parseConfig, systemClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import type { SessionDenylist } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { adminTokenFor, createTestKeys, serviceHeaders, testServiceIdentity, uniqueName } from "@careforall/testkit";
import { AuthConfigSchema, type AuthModel, authDbSchema, createAuthApp } from "../src/app";

export const MIGRATIONS = join(import.meta.dir, "../src/db/migrations");

export interface Harness extends Awaited<ReturnType<typeof startAuth>> {}

export async function startAuth(options: { clock?: Clock; onCommitted?: () => void; denylist?: SessionDenylist } = {}) {
  const database = await createTestDatabase("auth");
  await migrate({ url: database.url, migrationsFolder: MIGRATIONS, schema: "auth" });
  const keys = await createTestKeys();
  const config = parseConfig("auth", AuthConfigSchema, {
    DATABASE_URL: database.url,
    JWT_PRIVATE_KEY: keys.privateKeyPem,
    JWT_PUBLIC_KEY: keys.publicKeyPem,
    PASSWORD_HASH_MEMORY_KIB: "4096",
    NODE_ENV: "test",
  });
  const db = createDb({ url: database.url, schema: authDbSchema, max: 25, name: "auth-test" });
  const clock = options.clock ?? systemClock;
  const log = silentLogger("auth");
  const deps = {
    db,
    clock,
    config,
    log,
    identity: await testServiceIdentity("auth"),
    ...(options.onCommitted ? { onCommitted: options.onCommitted } : {}),
    ...(options.denylist ? { denylist: options.denylist } : {}),
  };
  const app = createAuthApp(deps);
  /** An administrator's access token (operator routes such as GET /users/:id). */
  const adminToken = () => adminTokenFor(keys.privateKeyPem);

  /** Calls auth as the gateway does (its service credential); `init.headers` may override it. */
  const call = async (path: string, init: RequestInit = {}) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        ...init,
        headers: { ...(await serviceHeaders("auth")), ...(init.headers as Record<string, string> | undefined) },
      }),
    );
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json", ...headers },
    });
  const get = (path: string, accessToken?: string) =>
    call(path, accessToken ? { headers: { authorization: `Bearer ${accessToken}` } } : {});

  /** Registers a fresh donor and returns its session (asserting the 201). */
  async function register(overrides: Partial<AuthModel.RegisterBody> = {}) {
    const body = { email: newEmail(), password: "correct horse battery", name: "Ada Donor", ...overrides };
    const res = await post("/auth/register", body);
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
    return { body, session: (await res.json()) as AuthModel.Session };
  }

  return {
    app,
    db,
    deps,
    config,
    keys,
    adminToken,
    call,
    post,
    get,
    register,
    async close() {
      await db.close();
      await database.drop();
    },
  };
}

export function newEmail(label = "user"): string {
  return `${uniqueName(label).toLowerCase()}@example.org`;
}

/** Asserts an RFC 9457 problem response and returns its body. */
export async function problem(res: Response, status: number) {
  const text = await res.text();
  expect({ status: res.status, body: text }).toMatchObject({ status });
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text);
  // typeof checks, not toMatchObject with expect.any(String): in Bun 1.4.5 that turns the
  // matched strings of `body` into String objects.
  expect([body.status, typeof body.type, typeof body.title]).toEqual([status, "string", "string"]);
  return body as {
    type: string;
    title: string;
    status: number;
    detail?: string;
    errors?: Array<{ path: string; message: string }>;
  };
}
