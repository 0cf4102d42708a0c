// The notification service's pure rules: texts, frames and topics, pledge state order, the
// audit-drift rule and the per-batch plans. No I/O here.
export * from "./audit-drift";
export * from "./frames";
export * from "./money";
export * from "./plan";
export * from "./pledge-status";
export * from "./texts";
