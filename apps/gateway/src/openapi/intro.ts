// The document's front page (info.description) and its tags: what a developer needs before the
// first call. Webhook signing and the real-time frames (GET /api/ws) are in docs/api.md.

export const API_DESCRIPTION = `The public contract of the CareForAll donation platform: this gateway is its only origin.

**Try it in three calls** (Swagger UI's "Try it out" fills each body with its example):
1. \`POST /api/bank/demo-accounts\` opens a simulated bank account and shows its \`accountSecret\` once.
2. \`POST /api/campaigns/{id}/pledges\` with an \`Idempotency-Key\` header (any unique string, e.g. a UUID), a
   \`donor\` and that account as \`source\` donates as a guest: \`202\` with a \`receiptToken\`.
3. \`GET /api/pledges/{id}\` with \`X-Receipt-Token\` follows it from \`pending\` to \`captured\` (seconds).

**Signing in.** \`POST /api/auth/register\` or \`/api/auth/login\` answers an \`accessToken\` (a JWT for 15 minutes;
send it as \`Authorization: Bearer …\`, the Authorize button does it here) and a \`refreshToken\` for
\`/api/auth/refresh\`. A signed-in donor pays from their own bank account, opened with the account.

**Money** is an integer of minor units (poisha, cents) in the campaign's currency: \`BDT\`, \`USD\` or \`EUR\`.
A pledge must be in its campaign's currency, from an account in that currency.

**Errors** are RFC 9457 \`application/problem+json\`: \`type\`, \`title\`, \`status\`, \`detail\`, and for invalid input
\`errors[]\` naming each field (\`path\`) and what it expects (\`message\`). A \`503\` or \`429\` carries
\`Retry-After\`: retry the same request then (with the same \`Idempotency-Key\`, it cannot be charged twice).
No input is answered with a \`500\`.

**Idempotency.** Every pledge needs an \`Idempotency-Key\`. The same key and body again answer the first result
with \`Idempotent-Replayed: true\`; another body with that key is \`422\`; while the first is still running, \`409\`.
Keys are scoped per donor (guests by \`donor.email\`) and kept at least 24 hours.

**Test accounts** (secret \`test\`) with fixed outcomes, like a card processor's test cards:

| \`source.bankAccountId\` | outcome |
|---|---|
| a demo account from \`POST /api/bank/demo-accounts\` | captured within seconds (1,000,000 minor units of BDT to spend) |
| \`acct_test_declined\` | \`202\`, then \`failed\` with \`failureReason: "declined"\` |
| \`acct_test_insufficient\` | \`202\`, then \`failed\` with \`failureReason: "insufficient_funds"\` |
| \`acct_test_slow\` | captured, but the bank takes ~3 s to authorize |
| any account with a wrong \`accountSecret\` | \`402\`, nothing stored, nothing charged |

**Request ids.** Every answer carries \`X-Request-Id\` (yours, when you send a valid one): quote it when asking
for help; every log line the request caused, in every service, carries it.

**Real time.** \`GET /api/ws\` (a WebSocket; OpenAPI cannot describe it, docs/api.md does) pushes campaign
totals, your pledges' status, your notifications and chat messages: connect with \`?token=<accessToken>\` (or
without, to follow campaigns only) and send JSON frames such as \`{ "op": "follow", "campaignId": "…" }\`.

**Lists** are newest first, \`limit\` 1–100 (default 20), and page with the opaque \`nextCursor\` of the previous
page passed as \`cursor\` (\`null\`: the last page).`;

export const TAGS = [
  { name: "auth", description: "Accounts and sessions" },
  { name: "campaigns", description: "Fundraising campaigns and their donations" },
  { name: "pledges", description: "Donations: idempotent by Idempotency-Key, followed from pending to captured" },
  { name: "bank", description: "The simulated bank: demo accounts and your balance" },
  { name: "webhooks", description: "Signed callbacks from the bank (docs/api.md: signing and batches)" },
  { name: "chat", description: "Campaign Q&A and support rooms: history here, live messages over GET /api/ws" },
  { name: "notifications", description: "Your stored notifications (pushed live over GET /api/ws)" },
  { name: "admin", description: "Administration: pledges by status, refunds, the money audit, chaos knobs" },
  { name: "operations", description: "Health, readiness and metrics" },
];
