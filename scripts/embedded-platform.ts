// The embedded profile: all eight services in this one process through the same definitions and
// bootService as the servers profile, on embeddedInfrastructure (one PGlite under `dataDir`, one
// in-memory bus and cache, calls between services in-process). Only the gateway listens; the
// bank's webhooks come in through it like an external bank's would.
import { join } from "node:path";
import {
  type BootedService,
  type BootOptions,
  bootService,
  type EmbeddedInfrastructure,
  embeddedInfrastructure,
  type ServiceDefinition,
} from "@careforall/boot";
import { freePort, type ServiceName, trustedKeysJson } from "@careforall/http";
import { createLogger, type Logger } from "@careforall/log";
import type { TObject } from "@sinclair/typebox";
import { authService } from "../apps/auth/src/main";
import { bankService } from "../apps/bank/src/main";
import { campaignService } from "../apps/campaign/src/main";
import { chatService } from "../apps/chat/src/main";
import { gatewayService } from "../apps/gateway/src/main";
import { notificationService } from "../apps/notification/src/main";
import { paymentService } from "../apps/payment/src/main";
import { pledgeService } from "../apps/pledge/src/main";
import { ensureDevKeys, ensureDevServiceKeys } from "./dev-keys";
import { ROOT } from "./stack";

export interface EmbeddedPlatformOptions {
  /** The database's directory (PGlite files), kept across restarts. */
  dataDir: string;
  /** A closed data directory copied into a missing `dataDir` (fast fresh directories in tests). */
  seedFrom?: string;
  /** Default: a free port. */
  gatewayPort?: number;
  /** Settings for every service (process.env underneath). */
  env?: Record<string, string | undefined>;
  /** Where the JWT and service keys live (generated once, as `./cfa start` does). Default `.data/keys`. */
  keysDir?: string;
  /** How long a stop waits for the events in the bus to be handled (default DRAIN_MS). */
  drainMs?: number;
  /** Each service's logger (default JSON on stdout at LOG_LEVEL). */
  createLog?: (service: string, level: string) => Logger;
}

export interface EmbeddedPlatform {
  gatewayUrl: string;
  services: Map<ServiceName, BootedService<unknown>>;
  /** Gateway first, then the others in reverse start order, then what they share. Idempotent. */
  stop(reason?: string): Promise<void>;
}

/**
 * How long a stop waits by default for the bus to empty. Nothing depends on it: the bus is
 * journaled (an event accepted is in the data directory before anyone sees it, and a consumer
 * resumes where it was), so a stop that does not wait, or a crash, only means redeliveries after
 * the restart. Waiting a little lets a Ctrl-C finish the donations in flight.
 */
export const DRAIN_MS = 10_000;

/** One service's boot, whatever its config type. */
interface Boot {
  name: ServiceName;
  boot(options: BootOptions): Promise<BootedService<unknown>>;
}
const boot = <S extends TObject>(definition: ServiceDefinition<S>): Boot => ({
  name: definition.name,
  boot: (options) => bootService(definition, options),
});

// Booted tier by tier: the bank before the services that call it, the gateway last (its /ready asks everyone).
const TIERS: Boot[][] = [
  [boot(bankService), boot(authService), boot(campaignService)],
  [boot(paymentService), boot(pledgeService), boot(notificationService), boot(chatService)],
  [boot(gatewayService)],
];

export async function startEmbeddedPlatform(options: EmbeddedPlatformOptions): Promise<EmbeddedPlatform> {
  const baseEnv = { ...process.env, ...options.env };
  const keysDir = options.keysDir ?? join(ROOT, ".data", "keys");
  const jwt =
    baseEnv.JWT_PRIVATE_KEY && baseEnv.JWT_PUBLIC_KEY
      ? { privateKeyPem: baseEnv.JWT_PRIVATE_KEY, publicKeyPem: baseEnv.JWT_PUBLIC_KEY }
      : await ensureDevKeys(keysDir);
  const serviceKeys = await ensureDevServiceKeys(keysDir);
  const gatewayPort = options.gatewayPort || freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const level = baseEnv.LOG_LEVEL ?? "info";
  const platformLog = options.createLog?.("platform", level) ?? createLogger({ service: "platform", level });

  const infra: EmbeddedInfrastructure = await embeddedInfrastructure({
    dataDir: options.dataDir,
    ...(options.seedFrom ? { seedFrom: options.seedFrom } : {}),
    log: platformLog,
  });
  const env: Record<string, string | undefined> = {
    ...baseEnv,
    DATABASE_URL: infra.databaseUrl,
    JWT_PRIVATE_KEY: jwt.privateKeyPem,
    JWT_PUBLIC_KEY: jwt.publicKeyPem,
    SERVICE_TRUSTED_KEYS: trustedKeysJson(serviceKeys),
    WEBHOOK_URL: `${gatewayUrl}/api/webhooks/bank`,
  };

  const services = new Map<ServiceName, BootedService<unknown>>();
  const started: ServiceName[] = [];
  const stopAll = async (reason: string, drainMs = 0) => {
    for (const name of started.splice(0).reverse()) {
      await services.get(name)?.stop(reason);
      infra.unregister(name);
      // The gateway is closed: let the pipeline finish what is in the bus while every other service
      // still runs (a restart would redeliver it anyway; this only spares the redeliveries).
      if (name === "gateway" && drainMs > 0) {
        const left = await infra.drain(drainMs);
        if (left > 0) platformLog.warn({ events: left }, "platform.stopped_with_undelivered_events");
      }
    }
    await infra.close();
  };

  try {
    for (const tier of TIERS) {
      await Promise.all(
        tier.map(async ({ name, boot }) => {
          const booted = await boot({
            infrastructure: infra,
            env: { ...env, SERVICE_PRIVATE_KEY: serviceKeys[name].privateKeyPem },
            listen: name === "gateway",
            port: gatewayPort,
            ...(options.createLog ? { createLog: options.createLog } : {}),
          });
          services.set(name, booted);
          started.push(name);
          infra.register(name, booted.app);
        }),
      );
    }
  } catch (err) {
    // Never leave half a platform running behind a failed start.
    await stopAll("start_failed");
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    gatewayUrl,
    services,
    stop(reason = "stop") {
      stopping ??= stopAll(reason, options.drainMs ?? DRAIN_MS);
      return stopping;
    },
  };
}
