// The campaign domain's public surface: pure rules, no I/O.
export * from "./listing";
export * from "./rules";
export * from "./totals";
