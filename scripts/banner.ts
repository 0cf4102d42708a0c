// The block `./cfa start` prints once the platform is up and seeded (both profiles): what a person
// needs to use it — which profile and why, where the API and its docs are, who to sign in as, and
// which bank accounts to pay from. Logs follow it.
import { DEMO_DONORS } from "./seed";

export interface BannerInput {
  profile: "servers" | "embedded";
  /** Why this profile: ./cfa's reason (CFA_PROFILE_REASON), or how it was started. */
  reason: string;
  /** What the profile runs on, e.g. "every service its own process on PostgreSQL, Redis, NATS". */
  runsOn: string;
  gatewayUrl: string;
  admin: { email: string; password: string };
  /** Pretty logs in a terminal, JSON otherwise (only named in the last line). */
  logs: "pretty" | "json";
}

/**
 * At most 14 lines. The fixed test accounts are the bank's (apps/bank/src/ledger.ts,
 * TEST_ACCOUNTS, secret "test"); a demo account is what a guest gets from the API.
 */
export function banner(input: BannerInput): string {
  const donors = DEMO_DONORS.map((d) => d.email.split("@")[0]).join(", ");
  const first = DEMO_DONORS[0];
  return [
    `CareForAll is up — ${input.profile} profile (${input.reason})`,
    `  runs as    ${input.runsOn}`,
    `  gateway    ${input.gatewayUrl}   (the API under /api)`,
    `  docs       ${input.gatewayUrl}/docs   (OpenAPI document at /docs/json)`,
    `  admin      ${input.admin.email} / ${input.admin.password}`,
    `  donors     ${donors} @example.org, passwords donor-pass-1…${DEMO_DONORS.length}` +
      (first ? ` (e.g. ${first.email} / ${first.password})` : ""),
    "  pay from   a donor's own account, or as a guest: POST /api/bank/demo-accounts (10,000 BDT, secret shown once)",
    `  test accts secret "test", outcomes fixed:`,
    "             acct_test_declined      always declined",
    "             acct_test_insufficient  empty: insufficient_funds",
    "             acct_test_slow          pays, but the bank answers after 3 s",
    `Logs follow (${input.logs === "pretty" ? "one line per record, LOG_FORMAT=json for JSON" : "JSON"}); Ctrl-C stops everything.`,
  ].join("\n");
}
