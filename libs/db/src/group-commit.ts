// Group commit at the application's edge: concurrent writes that arrive while every slot is busy
// leave together as one batch, so a burst costs one round trip and one commit per batch instead
// of one per request. An item alone goes at once (no timer, no added latency when idle); batches
// form only from the queue a busy database builds anyway ("smart batching"). A batch is one
// CLIENT span, a child of the first item's trace and linked to every other item's.

import { withDeadline } from "@careforall/resilience";
import { activeContext, type Context, SpanKind, tracingEnabled, withSpan } from "@careforall/telemetry";

export interface GroupCommitOptions<I, R> {
  /**
   * Writes one batch, in one transaction, and answers one result per item in the items' order.
   * Either the whole batch commits or none of it does.
   */
  run(items: I[]): Promise<R[]>;
  /** Batches in flight at once: the database connections the group may hold. */
  concurrency: number;
  /** The most items one batch carries. */
  maxBatch: number;
  /**
   * Whether a failed batch is tried again item by item, so that one bad item fails alone (a
   * statement error may be any single item's fault). Answer false for failures no item could have
   * caused — a connection refused, a timeout — so a batch is not retried N times against a
   * database that is down. Default: always retry.
   */
  retryAlone?(err: unknown): boolean;
  /** Called with the size of every batch that is run (metrics). */
  onBatch?(size: number): void;
  /**
   * The longest an item waits for its answer, queue included. Past it the item is refused with
   * DependencyTimeoutError (a 503 to the client): a hung database costs each caller this long at
   * most instead of hanging it. An item still queued is dropped, never sent; one whose batch is
   * running may still commit, so callers must treat the refusal as an unknown outcome (an
   * idempotent retry finds what happened). Default: no deadline.
   */
  deadlineMs?: number;
}

interface Waiting<I, R> {
  item: I;
  /** The trace context it was submitted in (its request's). */
  context: Context;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/** The dependency named in deadline refusals. */
const DEPENDENCY = "postgres";

export interface GroupCommit<I, R> {
  submit(item: I): Promise<R>;
  stats(): { running: number; waiting: number };
}

export function createGroupCommit<I, R>(options: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  const { concurrency, maxBatch } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("group commit: concurrency must be >= 1");
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error("group commit: maxBatch must be >= 1");
  const { deadlineMs } = options;
  if (deadlineMs !== undefined && !(deadlineMs > 0)) throw new Error("group commit: deadlineMs must be > 0");
  const waiting: Waiting<I, R>[] = [];
  let running = 0;

  async function runBatch(batch: Waiting<I, R>[]): Promise<void> {
    options.onBatch?.(batch.length);
    let results: R[];
    const items = batch.map((w) => w.item);
    try {
      results = await (tracingEnabled()
        ? withSpan(
            "db.group_commit",
            {
              kind: SpanKind.CLIENT,
              parent: (batch[0] as Waiting<I, R>).context,
              links: batch.slice(1).map((w) => w.context),
              attributes: { "db.system.name": "postgresql", "db.operation.batch.size": batch.length },
            },
            () => options.run(items),
          )
        : options.run(items));
      if (results.length !== batch.length)
        throw new Error(`group commit: run answered ${results.length} results for ${batch.length} items`);
    } catch (err) {
      if (batch.length === 1 || options.retryAlone?.(err) === false) {
        for (const w of batch) w.reject(err);
        return;
      }
      // Nothing of the batch committed: each item is tried alone, in this same slot.
      for (const w of batch) await runBatch([w]);
      return;
    }
    batch.forEach((w, i) => {
      w.resolve(results[i] as R);
    });
  }

  function pump(): void {
    while (running < concurrency && waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      running++;
      void runBatch(batch).finally(() => {
        running--;
        pump();
      });
    }
  }

  return {
    submit(item) {
      let entry: Waiting<I, R> | undefined;
      const answer = new Promise<R>((resolve, reject) => {
        entry = { item, context: activeContext(), resolve, reject };
        waiting.push(entry);
        pump();
      });
      if (deadlineMs === undefined) return answer;
      // The first of answer and deadline settles the item; an item still queued then is never sent.
      return withDeadline(answer, deadlineMs, DEPENDENCY).catch((err: unknown) => {
        const queued = entry ? waiting.indexOf(entry) : -1;
        if (queued >= 0) waiting.splice(queued, 1);
        throw err;
      });
    },
    stats: () => ({ running, waiting: waiting.length }),
  };
}
