// A service booted by bootService for a test, on either profile, as the platform runs it — its own
// database, bus prefix, signing keys, a bus to publish on and the gateway replicas' fan-outs — with one cleanup.
import {
  type BootedService,
  bootService,
  embeddedInfrastructure,
  type ServiceDefinition,
  serversInfrastructure,
} from "@careforall/boot";
import { type Bus, createJetStreamBus, createNatsFanout, deleteStream, type Fanout } from "@careforall/bus";
import type { Static } from "@careforall/config";
import { createTestDatabase } from "@careforall/db";
import { trustedKeysJson } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import type { TObject } from "@sinclair/typebox";
import {
  accessTokenSigner,
  createTestKeys,
  inProcessCaller,
  TEST_NATS_URL,
  TEST_REDIS_URL,
  testServiceKeys,
  uniqueName,
} from "./index";

export type TestProfile = "servers" | "embedded";

export interface BootForTestOptions<P extends TestProfile> {
  /** Names the test database, bus and Redis prefixes (servers) or the logger (embedded). */
  label: string;
  /** servers: PostgreSQL, JetStream, Redis and the NATS fan-out; embedded: PGlite and the in-memory parts. */
  profile: P;
  /** Added to (or overriding) the environment every boot gets: the service's own settings. */
  env?: Record<string, string>;
}

export interface TestBoot<C> {
  booted: BootedService<C>;
  /** A bus of the test's own, on the service's stream: events published here reach its consumers. */
  bus: Bus;
  /**
   * What gateway replicas hear: two NATS connections of their own on servers (each must get every
   * frame once), the one in-memory fan-out embedded.
   */
  replicas: Fanout[];
  /** Signs access tokens with the key whose public half the service verifies. */
  signToken: Awaited<ReturnType<typeof accessTokenSigner>>;
  /**
   * Calls the service as the gateway does (its service credential; `as` signs a user's token):
   * over HTTP to the listening port on servers, in-process (`app.handle`) embedded.
   */
  call: ReturnType<typeof inProcessCaller>;
  /** Stops the service and closes, drops and deletes what was made for it, newest first. */
  close(): Promise<void>;
}

/** servers: also the base URL the service listens on. */
export type TestBootFor<P extends TestProfile, C> = P extends "servers" ? TestBoot<C> & { url: string } : TestBoot<C>;

/** Boots `definition` on `profile`; a failure part-way closes what was already opened, then throws. */
export async function bootForTest<S extends TObject, P extends TestProfile>(
  definition: ServiceDefinition<S>,
  options: BootForTestOptions<P>,
): Promise<TestBootFor<P, Static<S>>> {
  const service = definition.name;
  const cleanups: Array<() => unknown> = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const keys = await testServiceKeys();
    const jwt = await createTestKeys();
    const signToken = await accessTokenSigner(jwt.privateKeyPem);
    const credentials = {
      LOG_LEVEL: "silent",
      JWT_PUBLIC_KEY: jwt.publicKeyPem,
      SERVICE_PRIVATE_KEY: keys[service].privateKeyPem,
      SERVICE_TRUSTED_KEYS: trustedKeysJson(keys),
    };

    if (options.profile === "embedded") {
      const log = silentLogger(`${options.label}-embedded-test`);
      const infra = await embeddedInfrastructure({ log });
      cleanups.push(() => infra.close());
      const booted = await bootService(definition, {
        infrastructure: infra,
        listen: false,
        env: { ...credentials, DATABASE_URL: infra.databaseUrl, ...options.env },
      });
      cleanups.push(() => booted.stop());
      infra.register(service, booted.app);
      cleanups.push(() => infra.unregister(service));
      const ctx = { service: "gateway" as const, config: {}, log };
      const bus = await infra.bus(ctx);
      const fanout = await infra.fanout(ctx);
      const call = inProcessCaller(booted.app, signToken, service);
      return { booted, bus, replicas: [fanout], signToken, call, close } as TestBootFor<P, Static<S>>;
    }

    const prefix = uniqueName(options.label);
    const tdb = await createTestDatabase(`${options.label}_boot`);
    cleanups.push(() => tdb.drop());
    cleanups.push(() => deleteStream(TEST_NATS_URL, prefix));
    const booted = await bootService(definition, {
      infrastructure: serversInfrastructure(),
      port: 0,
      env: {
        ...credentials,
        DATABASE_URL: tdb.url,
        NATS_URL: TEST_NATS_URL,
        BUS_PREFIX: prefix,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: `${prefix}:`,
        ...options.env,
      },
    });
    cleanups.push(() => booted.stop());
    const url = `http://127.0.0.1:${booted.port}`;
    const log = silentLogger();
    const bus = await createJetStreamBus({ url: TEST_NATS_URL, prefix, log });
    cleanups.push(() => bus.close());
    const replicas: Fanout[] = [];
    for (const name of ["gateway-a", "gateway-b"]) {
      const replica = await createNatsFanout({ url: TEST_NATS_URL, prefix, log, name: `${prefix}-${name}` });
      cleanups.push(() => replica.close());
      replicas.push(replica);
    }
    // The in-process caller's request, sent over the network to the listening service instead.
    const overHttp = {
      async handle(request: Request) {
        const { pathname, search } = new URL(request.url);
        const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.text();
        return fetch(`${url}${pathname}${search}`, { method: request.method, headers: request.headers, body });
      },
    };
    const call = inProcessCaller(overHttp, signToken, service);
    return { booted, bus, replicas, signToken, call, url, close } as TestBootFor<P, Static<S>>;
  } catch (err) {
    await close();
    throw err;
  }
}
