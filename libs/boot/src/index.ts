// @careforall/boot — one boot path for every service (bootService, on injected infrastructure),
// the servers profile's infrastructure, and the run-as-a-process entry each main.ts calls.
export {
  type AnyElysia,
  type BootConfig,
  type BootContext,
  type BootedService,
  type BootOptions,
  bootService,
  type Connection,
  type DatabaseSpec,
  defineService,
  type InboxPruneSettings,
  type InfraContext,
  type Infrastructure,
  type OpenedDatabase,
  type RelaySettings,
  type ServiceDefinition,
  type SharedCache,
  type UpstreamGuard,
} from "./boot";
export {
  type EmbeddedInfrastructure,
  type EmbeddedInfrastructureOptions,
  embeddedInfrastructure,
  inProcessFetch,
  inProcessUrl,
} from "./embedded";
export { runService } from "./process";
export { serversInfrastructure } from "./servers";
