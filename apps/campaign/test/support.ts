// Test harness for the campaign service: a fresh migrated PostgreSQL database, the app called
// in-process, and access tokens signed the way auth signs them.

import { expect } from "bun:test";
import { join } from "node:path";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import { createTestKeys } from "@careforall/testkit";
import { importPKCS8, SignJWT } from "jose";
import { createCampaignApp } from "../src/app";
import { schema } from "../src/db/schema";

export const ISSUER = "careforall-auth";

export interface TestUser {
  id: string;
  email: string;
  name: string;
  role: "donor" | "admin";
}

export const user = (name: string, role: TestUser["role"] = "donor"): TestUser => ({
  id: Bun.randomUUIDv7(),
  email: `${name}@example.test`,
  name,
  role,
});

export async function startCampaignTestApp(options: { onCommitted?: () => void } = {}) {
  const database = await createTestDatabase("campaign");
  await migrate({
    url: database.url,
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema: "campaign",
  });
  const handle = createDb({ url: database.url, schema, max: 12, name: "campaign-test" });
  const keys = await createTestKeys();
  const privateKey = await importPKCS8(keys.privateKeyPem, "EdDSA");
  const clock = manualClock(Date.now());
  let commits = 0;
  const app = createCampaignApp({
    db: handle.db,
    clock,
    config: { JWT_PUBLIC_KEY: keys.publicKeyPem, JWT_ISSUER: ISSUER },
    log: silentLogger("campaign-test"),
    onCommitted: () => {
      commits++;
      options.onCommitted?.();
    },
  });

  const tokenFor = (u: TestUser, expiresIn = "15m") =>
    new SignJWT({ email: u.email, name: u.name, role: u.role })
      .setProtectedHeader({ alg: "EdDSA" })
      .setSubject(u.id)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(privateKey);

  interface CallOptions {
    as?: TestUser;
    token?: string;
    /** An object is sent as JSON; a string is sent verbatim with a JSON content type. */
    body?: unknown;
    headers?: Record<string, string>;
  }

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token ?? (options.as ? await tokenFor(options.as) : undefined);
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
  }

  return {
    app,
    db: handle.db,
    client: handle.client,
    clock,
    call,
    tokenFor,
    commits: () => commits,
    async stop() {
      await handle.close();
      await database.drop();
    },
  };
}

export type CampaignTestApp = Awaited<ReturnType<typeof startCampaignTestApp>>;

export const validBody = (overrides: Record<string, unknown> = {}) => ({
  title: "Clean water for Sylhet",
  description: "Wells and filters for 40 villages.",
  goalMinor: 500_000,
  currency: "BDT",
  ...overrides,
});

/** Asserts an RFC 9457 problem response with the given status and returns its body. */
export async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail?: string;
    errors?: Array<{ path: string; message: string }>;
  };
  // Plain checks, not toMatchObject with expect.any(): Bun 1.4.5 writes the matcher objects
  // into the received value, which would corrupt the body we return.
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe("string");
  expect(typeof body.title).toBe("string");
  expect(JSON.stringify(body)).not.toContain("    at ");
  return body;
}

/** The field paths a 400 problem names. */
export const errorPaths = (problem: { errors?: Array<{ path: string }> }) => (problem.errors ?? []).map((e) => e.path);
