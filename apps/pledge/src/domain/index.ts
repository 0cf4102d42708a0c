// The pledge domain's public surface: pure rules, no I/O.
export * from "./campaign-rules";
export * from "./donor";
export * from "./idempotency";
export * from "./listing";
export * from "./pledge-machine";
export * from "./receipt";
