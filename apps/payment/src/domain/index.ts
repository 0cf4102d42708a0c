// The payment domain's public surface: pure rules, no I/O.
export * from "./backoff";
export * from "./hold";
export * from "./payment-machine";
export * from "./signature-window";
export * from "./webhook";
