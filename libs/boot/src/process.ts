// Running one service as its own process: the only place that installs signal handlers and
// exits. SIGTERM/SIGINT stop it in order and exit 0; a failed start exits 1.
import type { Static } from "@careforall/config";
import { ConfigError } from "@careforall/config";
import { guardProcess } from "@careforall/http";
import type { TObject } from "@sinclair/typebox";
import { type BootedService, type BootOptions, bootService, type ServiceDefinition } from "./boot";
import { serversInfrastructure } from "./servers";

export async function runService<S extends TObject>(
  definition: ServiceDefinition<S>,
  options: Partial<BootOptions> = {},
): Promise<BootedService<Static<S>>> {
  let booted: BootedService<Static<S>>;
  try {
    booted = await bootService(definition, { infrastructure: serversInfrastructure(), ...options });
  } catch (err) {
    // A configuration error prints every problem (there is no logger yet); anything later was
    // logged as service.start_failed by bootService.
    if (err instanceof ConfigError) console.error(err.message);
    process.exit(1);
  }
  const shutdown = (signal: string) => void booted.stop(signal).then(() => process.exit(0));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  guardProcess(booted.log);
  return booted;
}
