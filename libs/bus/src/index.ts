// @careforall/bus public surface: the Bus contract, its JetStream and in-process
// implementations, and the event-definition helpers producers and consumers share.

export {
  assertTopic,
  createMemoryFanout,
  createNatsFanout,
  type Fanout,
  type FanoutListener,
  type FanoutStats,
  type NatsFanoutOptions,
} from "./fanout";
export {
  createJetStreamBus,
  deleteStream,
  type JetStreamBusOptions,
  jetStreamOptions,
  type NatsSettings,
  natsConnectOptions,
} from "./jetstream";
export {
  type BusJournal,
  type JournaledEvent,
  type JournalState,
  openSqliteJournal,
  type SqliteJournal,
} from "./journal";
export {
  createMemoryBus,
  type JournaledMemoryBusOptions,
  type MemoryBusOptions,
  openJournaledMemoryBus,
} from "./memory";
export { type CounterRegistry, exportBusMetrics, exportConsumerLag, type GaugeHost } from "./metrics";
export { coverPattern, eventSubject, streamName, typeMatches } from "./subjects";
export {
  type BatchHandler,
  type BatchItem,
  type Bus,
  type BusStats,
  type DeliveryContext,
  defineEvent,
  type EventData,
  type EventDefinition,
  type EventEnvelope,
  EventEnvelopeSchema,
  type EventHandler,
  type PublishResult,
  type SubscribeBatchOptions,
  type SubscribeOptions,
  type Subscription,
} from "./types";
