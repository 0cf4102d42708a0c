// Test harness for the campaign service: a fresh migrated PostgreSQL database, the app called
// in-process, and access tokens signed the way auth signs them.

import { join } from "node:path";
import { manualClock } from "@careforall/config";
import { createDb, createTestDatabase, migrate } from "@careforall/db";
import { silentLogger } from "@careforall/log";
import {
  accessTokenSigner,
  createTestKeys,
  inProcessCaller,
  TEST_ISSUER,
  type TestPrincipal,
  testServiceIdentity,
} from "@careforall/testkit";
import { createCampaignApp } from "../src/app";
import { schema } from "../src/db/schema";

export const ISSUER = TEST_ISSUER;

export type TestUser = TestPrincipal;

export const user = (name: string, role: TestUser["role"] = "donor"): TestUser => ({
  id: Bun.randomUUIDv7(),
  email: `${name}@example.test`,
  name,
  role,
});

export async function startCampaignTestApp(options: { onCommitted?: () => void; poolMax?: number } = {}) {
  const database = await createTestDatabase("campaign");
  await migrate({
    url: database.url,
    migrationsFolder: join(import.meta.dir, "..", "src", "db", "migrations"),
    schema: "campaign",
  });
  const handle = createDb({ url: database.url, schema, max: options.poolMax ?? 12, name: "campaign-test" });
  const keys = await createTestKeys();
  const clock = manualClock(Date.now());
  let commits = 0;
  const app = createCampaignApp({
    identity: await testServiceIdentity("campaign"),
    db: handle.db,
    clock,
    config: { JWT_PUBLIC_KEY: keys.publicKeyPem, JWT_ISSUER: ISSUER },
    log: silentLogger("campaign-test"),
    onCommitted: () => {
      commits++;
      options.onCommitted?.();
    },
  });

  const tokenFor = await accessTokenSigner(keys.privateKeyPem);

  const call = inProcessCaller(app, tokenFor, "campaign");

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

export { errorPaths, expectProblem } from "@careforall/testkit";
