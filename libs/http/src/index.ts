// @careforall/http — the HTTP surface every service shares.
export * from "./auth";
export * from "./client";
export * from "./errors";
export * from "./metrics";
export * from "./plugin";
export * from "./request-metrics";
export * from "./schemas";
export * from "./serve";
export * from "./service-identity";
