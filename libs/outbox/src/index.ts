// @careforall/outbox — transactional outbox with its relay, and the consumer inbox.
export * from "./inbox";
export * from "./inbox-pruner";
export * from "./outbox";
export * from "./tables";
