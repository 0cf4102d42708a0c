// @careforall/cache — shared cache (Redis | memory), an in-process tier, and rate limiting.

export * from "./failover";
export * from "./memory";
export * from "./redis";
export * from "./tiered";
export * from "./types";
