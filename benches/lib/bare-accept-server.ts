// The bare durable accept target's process, spawned by bare-accept.ts: Bun.serve + postgres.js
// answering POST /api/campaigns/:id/pledges with ONE transaction (a pledge-shaped row and an outbox
// row in schema "bare") and a 202 — the least a durable accept can cost on this machine.
import postgres from "postgres";

const databaseUrl = process.env.BARE_DATABASE_URL;
const port = Number(process.env.BARE_PORT);
const poolMax = Number(process.env.BARE_POOL_MAX ?? 64);
if (!databaseUrl || !Number.isInteger(port) || port <= 0 || !Number.isInteger(poolMax) || poolMax < 1) {
  console.error("bare-accept-server: BARE_DATABASE_URL, BARE_PORT and BARE_POOL_MAX are required");
  process.exit(2);
}

const sql = postgres(databaseUrl, {
  max: poolMax,
  onnotice: () => {},
  connection: { application_name: "bare" },
});

// Its own tables, shaped like the pledge service's: the idempotency key is unique per donor scope.
await sql.unsafe(`
  create schema if not exists bare;
  create table if not exists bare.pledges (
    id uuid primary key,
    campaign_id uuid not null,
    donor_id uuid,
    donor_key text not null,
    donor_name text,
    guest_email text,
    amount_minor bigint not null check (amount_minor between 100 and 100000000),
    currency text not null check (currency in ('BDT', 'USD', 'EUR')),
    status text not null check (status = 'pending'),
    source_account_id text,
    idempotency_key text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (donor_key, idempotency_key)
  );
  create table if not exists bare.outbox (
    id uuid primary key,
    type text not null,
    aggregate_id text not null,
    envelope jsonb not null,
    created_at timestamptz not null default now(),
    published_at timestamptz
  );
`);

interface PledgeBody {
  amountMinor?: unknown;
  currency?: unknown;
  donor?: { email?: unknown; name?: unknown };
  source?: { bankAccountId?: unknown };
}

const problem = (status: number, title: string) =>
  Response.json(
    { type: "about:blank", title, status },
    { status, headers: { "content-type": "application/problem+json" } },
  );

/** The `sub` of a Bearer token, unverified: the bare target only needs a donor scope. */
function userOf(authorization: string | null): string | null {
  if (!authorization?.startsWith("Bearer ")) return null;
  try {
    const payload = authorization.slice(7).split(".")[1] ?? "";
    const sub = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

async function accept(req: Request, campaignId: string): Promise<Response> {
  const key = req.headers.get("idempotency-key");
  if (!key) return problem(400, "Idempotency-Key header required");
  let body: PledgeBody;
  try {
    body = (await req.json()) as PledgeBody;
  } catch {
    return problem(400, "body is not JSON");
  }
  const { amountMinor, currency } = body;
  if (typeof amountMinor !== "number" || !Number.isInteger(amountMinor) || typeof currency !== "string") {
    return problem(422, "amountMinor and currency required");
  }
  const donorId = userOf(req.headers.get("authorization"));
  const email = typeof body.donor?.email === "string" ? body.donor.email.trim().toLowerCase() : null;
  if (!donorId && !email) return problem(422, "donor required");
  const id = Bun.randomUUIDv7();
  const now = new Date();
  const donorKey = donorId ? `user:${donorId}` : `guest:${email}`;
  const envelope = {
    id: Bun.randomUUIDv7(),
    type: "pledge.created",
    occurredAt: now.toISOString(),
    data: { pledgeId: id, campaignId, donorId, amountMinor, currency },
  };
  try {
    // One transaction, its statements pipelined (BEGIN, two INSERTs, COMMIT in one round trip).
    await sql.begin((tx) => [
      tx`insert into bare.pledges (id, campaign_id, donor_id, donor_key, donor_name, guest_email, amount_minor,
           currency, status, source_account_id, idempotency_key, created_at, updated_at)
         values (${id}, ${campaignId}, ${donorId}, ${donorKey},
           ${typeof body.donor?.name === "string" ? body.donor.name : null}, ${donorId ? null : email},
           ${amountMinor}, ${currency}, 'pending',
           ${typeof body.source?.bankAccountId === "string" ? body.source.bankAccountId : null}, ${key}, ${now}, ${now})`,
      tx`insert into bare.outbox (id, type, aggregate_id, envelope)
         values (${envelope.id}, ${envelope.type}, ${id}, ${tx.json(envelope)})`,
    ]);
  } catch (err) {
    if ((err as { code?: string }).code === "23505") return problem(409, "Idempotency-Key already used");
    return problem(500, String(err));
  }
  return Response.json(
    { id, campaignId, amountMinor, currency, status: "pending", createdAt: now.toISOString() },
    { status: 202 },
  );
}

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  routes: {
    "/api/campaigns/:id/pledges": { POST: (req) => accept(req, req.params.id) },
    "/ready": new Response("ok"),
    /** What the load left behind: every 202 must be a committed pledge with its outbox row. */
    "/rows": async () => {
      const [row] = await sql`select (select count(*) from bare.pledges)::int as pledges,
                                     (select count(*) from bare.outbox)::int as outbox`;
      return Response.json(row);
    },
  },
  fetch: () => problem(404, "not found"),
});

const stop = async () => {
  server.stop(true);
  await sql.end({ timeout: 5 }).catch(() => undefined);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
