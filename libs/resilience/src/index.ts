// @careforall/resilience — what keeps a dependency's outage from becoming ours: a circuit breaker
// that stops calling a dependency that just failed (callers answer at once instead of waiting for
// a timeout each) and lets one trial call through after a pause to notice it is back.
export * from "./breaker";
export * from "./unavailable";
