// The bank domain's public surface: pure rules, no I/O.
export * from "./backoff";
export * from "./faults";
export * from "./grants";
export * from "./holds";
export * from "./request-hash";
export * from "./signature";
