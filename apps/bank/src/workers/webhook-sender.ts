// Delivers queued webhooks to WEBHOOK_URL, signed (`Bank-Signature: t=…,v1=…`), retrying with
// capped exponential backoff and jitter until a 2xx. Rows are claimed with a lease (SKIP LOCKED,
// short transaction) and sent outside any transaction, so N replicas share the queue and a
// crashed sender's rows come back after the lease. Chaos knobs: drop, duplicate, reorder.
import type { Clock } from "@careforall/config";
import type { Logger } from "@careforall/log";
import { createPollingLoop } from "@careforall/worker";
import { eq, sql } from "drizzle-orm";
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
  >;
  batchSize?: number;
}

export interface WebhookSender {
  /** Claims and handles one batch of due deliveries; returns how many were claimed. */
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
}

/** Chance that the reorder knob holds a given delivery back (once). */
const REORDER_SHARE = 0.5;

export function createWebhookSender(deps: WebhookSenderDeps): WebhookSender {
  const { db, clock, log, faults, random, metrics, config } = deps;
  const batchSize = deps.batchSize ?? 50;
  // Long enough for two concurrent attempts (duplicate knob) to time out before anyone reclaims.
  const leaseMs = config.WEBHOOK_TIMEOUT_MS * 2 + 5000;

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
      returning w.id, w.payload, w.attempts, w.held_back`)) as unknown as Array<{
      id: string;
      payload: Record<string, unknown>;
      attempts: number;
      held_back: boolean;
    }>;
    // Oldest event first (UUIDv7 ids are time-ordered), so an undisturbed queue keeps its order.
    return rows
      .map((r) => ({ id: r.id, payload: r.payload, attempts: r.attempts, heldBack: r.held_back }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async function post(body: string): Promise<{ ok: boolean; error?: string }> {
    const t = Math.floor(clock.now() / 1000);
    try {
      const res = await fetch(config.WEBHOOK_URL, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signWebhook(config.WEBHOOK_SECRET, body, t),
          "user-agent": "careforall-bank-webhooks",
        },
        body,
        signal: AbortSignal.timeout(config.WEBHOOK_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => {});
      return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, error: String((err as Error)?.message ?? err) };
    }
  }

  async function handle(row: Claimed): Promise<void> {
    const knobs = faults.current();
    const now = clock.date();
    if (fires(knobs.webhookDropRate, random)) {
      // Marked delivered, never sent: the payment reconciler has to notice on its own.
      metrics?.fault("webhook_drop");
      await db
        .update(webhookDeliveries)
        .set({ deliveredAt: now, dropped: true })
        .where(eq(webhookDeliveries.id, row.id));
      return;
    }
    if (knobs.webhookReorder && !row.heldBack && fires(REORDER_SHARE, random)) {
      metrics?.fault("webhook_reorder");
      await db
        .update(webhookDeliveries)
        .set({ heldBack: true, nextAttemptAt: new Date(now.getTime() + config.WEBHOOK_REORDER_DELAY_MS) })
        .where(eq(webhookDeliveries.id, row.id));
      return;
    }
    const duplicate = fires(knobs.webhookDuplicateRate, random);
    if (duplicate) metrics?.fault("webhook_duplicate");
    const body = JSON.stringify(row.payload);
    // A duplicate goes out concurrently with the original: the receiver's dedupe must hold under a race.
    const results = await Promise.all(duplicate ? [post(body), post(body)] : [post(body)]);
    const ok = results.some((r) => r.ok);
    const attempts = row.attempts + 1;
    metrics?.webhookAttempts.inc({ result: ok ? "ok" : "failed" });
    if (ok) {
      await db
        .update(webhookDeliveries)
        .set({ deliveredAt: clock.date(), attempts, lastError: null })
        .where(eq(webhookDeliveries.id, row.id));
      return;
    }
    const error = results.find((r) => !r.ok)?.error ?? "failed";
    const delay = webhookBackoffMs(attempts, config.WEBHOOK_BASE_BACKOFF_MS, config.WEBHOOK_MAX_BACKOFF_MS, random);
    // A long receiver outage would flood the log: the first attempts and every tenth are warnings.
    const level = attempts <= 3 || attempts % 10 === 0 ? "warn" : "debug";
    log[level]({ webhookId: row.id, attempts, delayMs: delay, error }, "bank.webhook_failed");
    await db
      .update(webhookDeliveries)
      .set({ attempts, lastError: error, nextAttemptAt: new Date(clock.now() + delay) })
      .where(eq(webhookDeliveries.id, row.id));
  }

  async function deliverOnce(): Promise<number> {
    const rows = await claim();
    for (const row of rows) {
      try {
        await handle(row);
      } catch (err) {
        // The lease brings the row back later.
        log.error({ err, webhookId: row.id }, "bank.webhook_handle_failed");
      }
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
