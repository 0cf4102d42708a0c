// Delivers queued webhooks to WEBHOOK_URL in batches: up to WEBHOOK_BATCH_MAX due events per POST
// as `{ "events": [ … ] }` (a lone event goes as the bare event object), signed as a whole
// (`Bank-Signature: t=…,v1=…` over the exact body). A 2xx marks every event of that POST
// delivered; a failure retries each of them with capped exponential backoff and jitter. Rows are
// claimed with a lease (SKIP LOCKED, short transaction) and sent outside any transaction, so N
// replicas share the queue and a crashed sender's rows come back after the lease. Chaos knobs act
// per event: drop, duplicate (sent again in a second, concurrent POST), reorder (held back once).
// Each POST continues the trace of the call that queued its events (one trace), or is linked to
// each of theirs (several), and carries that context to the receiver.
import type { Clock } from "@careforall/config";
import { fetchWithTimeout } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { batchTraceContext, type Context, ROOT_CONTEXT, SpanKind, withContext, withSpan } from "@careforall/telemetry";
import { createPollingLoop } from "@careforall/worker";
import { inArray, sql } from "drizzle-orm";
import type { BankConfig } from "../config";
import { webhookDeliveries } from "../db/schema";
import { fires, type Random, SIGNATURE_HEADER, signWebhook, webhookBackoffMs } from "../domain";
import type { FaultStore } from "../faults";
import type { BankDb } from "../ledger";
import type { BankMetrics } from "../metrics";

export interface WebhookSenderDeps {
  db: BankDb;
  clock: Clock;
  log: Logger;
  faults: FaultStore;
  random: Random;
  metrics?: BankMetrics;
  config: Pick<
    BankConfig,
    | "WEBHOOK_URL"
    | "WEBHOOK_SECRET"
    | "WEBHOOK_BASE_BACKOFF_MS"
    | "WEBHOOK_MAX_BACKOFF_MS"
    | "WEBHOOK_TIMEOUT_MS"
    | "WEBHOOK_REORDER_DELAY_MS"
    | "WEBHOOK_POLL_MS"
    | "WEBHOOK_BATCH_MAX"
  >;
  /** Due events claimed per round (default WEBHOOK_BATCH_MAX); they go out in POSTs of at most that many. */
  batchSize?: number;
}

export interface WebhookSender {
  /** Claims and sends one batch of due deliveries; returns how many were claimed. */
  deliverOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
  /** Wake the loop now (after a commit that queued webhooks). */
  kick(): void;
}

/** A claimed delivery: what the sender needs to attempt it. */
interface Claimed {
  id: string;
  payload: Record<string, unknown>;
  attempts: number;
  heldBack: boolean;
  traceHeaders: Record<string, string> | null;
}

/**
 * The context a POST of `rows` is sent in: the trace of its events when they share one; otherwise a
 * fresh trace (undefined parent) linked to each of theirs.
 */
export function deliveryContext(rows: ReadonlyArray<Pick<Claimed, "traceHeaders">>): {
  parent: Context | undefined;
  links: Context[];
} {
  const { parent, links, shared } = batchTraceContext(rows.map((r) => r.traceHeaders ?? {}));
  return shared ? { parent, links: [] } : { parent: undefined, links };
}

/** Chance that the reorder knob holds a given delivery back (once). */
const REORDER_SHARE = 0.5;
/** Receivers refuse bodies over 64 KiB (API.md); a batch is split well before that. */
const MAX_BODY_BYTES = 60 * 1024;

const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

/**
 * The POST bodies for `rows`, in order: one event alone as its bare object (the original
 * single-event shape), several as `{ "events": [ … ] }`, at most `max` events and MAX_BODY_BYTES each.
 */
export function webhookBodies<R extends { payload: unknown }>(rows: readonly R[], max: number) {
  const bodies: Array<{ rows: R[]; body: string }> = [];
  let current: R[] = [];
  let parts: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length === 0) return;
    bodies.push({ rows: current, body: current.length === 1 ? parts[0]! : `{"events":[${parts.join(",")}]}` });
    current = [];
    parts = [];
    bytes = 0;
  };
  for (const row of rows) {
    const part = JSON.stringify(row.payload);
    const size = utf8Length(part) + 1;
    if (current.length >= max || (current.length > 0 && bytes + size + 13 > MAX_BODY_BYTES)) flush();
    current.push(row);
    parts.push(part);
    bytes += size;
  }
  flush();
  return bodies;
}

export function createWebhookSender(deps: WebhookSenderDeps): WebhookSender {
  const { db, clock, log, faults, random, metrics, config } = deps;
  const batchSize = deps.batchSize ?? config.WEBHOOK_BATCH_MAX;
  // Long enough for two concurrent attempts (duplicate knob) to time out before anyone reclaims.
  const leaseMs = config.WEBHOOK_TIMEOUT_MS * 2 + 5000;
  // A CLIENT span per POST (while spans are recorded) and the trace headers of the active context.
  const postTo = fetchWithTimeout(config.WEBHOOK_TIMEOUT_MS, undefined, "payment");

  async function claim(): Promise<Claimed[]> {
    const now = clock.date();
    // Raw SQL: drizzle cannot say UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED).
    const rows = (await db.execute(sql`
      update ${webhookDeliveries} w
      set next_attempt_at = ${new Date(now.getTime() + leaseMs).toISOString()}::timestamptz
      from (
        select id from ${webhookDeliveries}
        where delivered_at is null and next_attempt_at <= ${now.toISOString()}::timestamptz
        order by next_attempt_at, id
        limit ${batchSize}
        for update skip locked
      ) due
      where w.id = due.id
      returning w.id, w.payload, w.attempts, w.held_back, w.trace_headers`)) as unknown as Array<{
      id: string;
      payload: Record<string, unknown>;
      attempts: number;
      held_back: boolean;
      trace_headers: Record<string, string> | null;
    }>;
    // Oldest event first (UUIDv7 ids are time-ordered), so an undisturbed queue keeps its order.
    return rows
      .map((r) => ({
        id: r.id,
        payload: r.payload,
        attempts: r.attempts,
        heldBack: r.held_back,
        traceHeaders: r.trace_headers,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async function postOnce(body: string): Promise<{ ok: boolean; error?: string }> {
    const t = Math.floor(clock.now() / 1000);
    try {
      const res = await postTo(config.WEBHOOK_URL, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signWebhook(config.WEBHOOK_SECRET, body, t),
          "user-agent": "careforall-bank-webhooks",
        },
        body,
      });
      await res.body?.cancel().catch(() => {});
      return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, error: String((err as Error)?.message ?? err) };
    }
  }

  /** Sends one POST of `rows` in their trace (see deliveryContext). */
  function post(rows: Claimed[], body: string): Promise<{ ok: boolean; error?: string }> {
    const { parent, links } = deliveryContext(rows);
    const base = parent ?? ROOT_CONTEXT;
    return withContext(base, () =>
      links.length > 0
        ? withSpan(
            "bank.webhooks deliver",
            { kind: SpanKind.PRODUCER, links, attributes: { "webhook.count": rows.length } },
            () => postOnce(body),
          )
        : postOnce(body),
    );
  }

  /** Marks events delivered (the POST carrying them got a 2xx), with one UPDATE. */
  async function delivered(rows: Claimed[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .update(webhookDeliveries)
      .set({ deliveredAt: clock.date(), attempts: sql`${webhookDeliveries.attempts} + 1`, lastError: null })
      .where(
        inArray(
          webhookDeliveries.id,
          rows.map((r) => r.id),
        ),
      );
  }

  /** Schedules each failed event's next attempt after its own backoff, with one UPDATE. */
  async function failed(rows: Array<{ row: Claimed; error: string }>): Promise<void> {
    if (rows.length === 0) return;
    const retries = rows.map(({ row, error }) => {
      const attempts = row.attempts + 1;
      const delay = webhookBackoffMs(attempts, config.WEBHOOK_BASE_BACKOFF_MS, config.WEBHOOK_MAX_BACKOFF_MS, random);
      return { id: row.id, attempts, error, delay, at: new Date(clock.now() + delay).toISOString() };
    });
    // A long receiver outage would flood the log: one line per failed POST, and only for the first
    // attempts and every tenth as a warning.
    const first = retries[0]!;
    const level = first.attempts <= 3 || first.attempts % 10 === 0 ? "warn" : "debug";
    log[level](
      { webhookIds: retries.map((r) => r.id), attempts: first.attempts, delayMs: first.delay, error: first.error },
      "bank.webhook_failed",
    );
    // Raw SQL: a per-row UPDATE … FROM unnest(…) is beyond drizzle's builder. (Times travel as
    // text: postgres.js cannot serialise a timestamptz[] parameter.)
    await db.execute(sql`
      update ${webhookDeliveries} w
      set attempts = w.attempts + 1, last_error = v.error, next_attempt_at = v.at::timestamptz
      from unnest(
        ${sql.param(retries.map((r) => r.id))}::uuid[],
        ${sql.param(retries.map((r) => r.error))}::text[],
        ${sql.param(retries.map((r) => r.at))}::text[]
      ) as v(id, error, at)
      where w.id = v.id`);
  }

  /** Applies the chaos knobs per event, then sends the rest in batch POSTs and records the outcomes. */
  async function send(rows: Claimed[]): Promise<void> {
    const knobs = faults.current();
    const now = clock.date();
    const drop: string[] = [];
    const holdBack: string[] = [];
    const outgoing: Claimed[] = [];
    const again: Claimed[] = [];
    for (const row of rows) {
      if (fires(knobs.webhookDropRate, random)) {
        // Marked delivered, never sent: the payment reconciler has to notice on its own.
        metrics?.fault("webhook_drop");
        drop.push(row.id);
      } else if (knobs.webhookReorder && !row.heldBack && fires(REORDER_SHARE, random)) {
        metrics?.fault("webhook_reorder");
        holdBack.push(row.id);
      } else {
        outgoing.push(row);
        if (fires(knobs.webhookDuplicateRate, random)) {
          metrics?.fault("webhook_duplicate");
          again.push(row);
        }
      }
    }
    if (drop.length > 0)
      await db
        .update(webhookDeliveries)
        .set({ deliveredAt: now, dropped: true })
        .where(inArray(webhookDeliveries.id, drop));
    if (holdBack.length > 0)
      await db
        .update(webhookDeliveries)
        .set({ heldBack: true, nextAttemptAt: new Date(now.getTime() + config.WEBHOOK_REORDER_DELAY_MS) })
        .where(inArray(webhookDeliveries.id, holdBack));
    if (outgoing.length === 0) return;

    // Duplicates go out in their own POST, concurrently with the originals: the receiver's dedupe
    // must hold under a race, and inside a batch as well as across batches.
    const posts = [...webhookBodies(outgoing, batchSize), ...webhookBodies(again, batchSize)];
    const answers = await Promise.all(posts.map(async ({ rows, body }) => ({ rows, answer: await post(rows, body) })));
    const ok = new Set<string>();
    const errors = new Map<string, string>();
    for (const { rows, answer } of answers) {
      for (const row of rows) {
        if (answer.ok) ok.add(row.id);
        else errors.set(row.id, answer.error ?? "failed");
      }
    }
    const done = outgoing.filter((r) => ok.has(r.id));
    const notDone = outgoing.filter((r) => !ok.has(r.id));
    if (done.length > 0) metrics?.webhookAttempts.inc({ result: "ok" }, done.length);
    if (notDone.length > 0) metrics?.webhookAttempts.inc({ result: "failed" }, notDone.length);
    await delivered(done);
    await failed(notDone.map((row) => ({ row, error: errors.get(row.id) ?? "failed" })));
  }

  async function deliverOnce(): Promise<number> {
    const rows = await claim();
    if (rows.length === 0) return 0;
    try {
      await send(rows);
    } catch (err) {
      // The lease brings the rows back later.
      log.error({ err, webhookIds: rows.map((r) => r.id) }, "bank.webhook_handle_failed");
    }
    return rows.length;
  }

  const loop = createPollingLoop({
    name: "bank.webhook_sender",
    log,
    intervalMs: config.WEBHOOK_POLL_MS,
    async tick() {
      return (await deliverOnce()) >= batchSize;
    },
  });

  return {
    deliverOnce,
    start: loop.start,
    stop: loop.stop,
    kick: loop.kick,
  };
}
