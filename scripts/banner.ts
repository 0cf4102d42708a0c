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
 * 13 lines with the four demo donors. The fixed test accounts are the bank's (apps/bank/src/ledger.ts,
 * TEST_ACCOUNTS, secret "test"); a demo account is what a guest gets from the API.
 */
export function banner(input: BannerInput): string {
  // Two demo donors a line, each with its password.
  const pairs = DEMO_DONORS.map((d) => `${d.email} / ${d.password}`);
  const donorLines: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    donorLines.push(`  ${i === 0 ? "donors    " : "          "} ${pairs.slice(i, i + 2).join("   ")}`);
  }
  return [
    `CareForAll is up — ${input.profile} profile (${input.reason})`,
    `  runs as    ${input.runsOn}`,
    `  gateway    ${input.gatewayUrl}   (the API under /api)`,
    `  docs       ${input.gatewayUrl}/docs   (OpenAPI document at /docs/json)`,
    `  admin      ${input.admin.email} / ${input.admin.password}`,
    ...donorLines,
    "  pay from   a donor's own account, or a guest's: POST /api/bank/demo-accounts (10,000 BDT)",
    `  test accts secret "test", outcomes fixed:`,
    "             acct_test_declined      always declined",
    "             acct_test_insufficient  empty: insufficient_funds",
    "             acct_test_slow          pays, but the bank answers after 3 s",
    `Logs follow (${input.logs === "pretty" ? "one line per record, LOG_FORMAT=json for JSON" : "JSON"}); Ctrl-C stops everything.`,
  ].join("\n");
}
