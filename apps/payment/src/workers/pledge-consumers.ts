// The payment service's durable JetStream consumers: pledge.created starts a payment,
// pledge.cancelled and pledge.refund_requested ask for the money back. Shared by replicas;
// each handler records the event id in the inbox with its effect (invariant 5).
import type { Bus, EventEnvelope, Subscription } from "@careforall/bus";
import { PledgeCancelled, PledgeCreated, PledgeRefundRequested } from "@careforall/events";
import type { PaymentService } from "../service";

export const DURABLES = {
  pledgeCreated: "payment-pledge-created",
  pledgeCancelled: "payment-pledge-cancelled",
  pledgeRefundRequested: "payment-pledge-refund-requested",
} as const;

export interface PledgeConsumerOptions {
  bus: Bus;
  service: PaymentService;
  /** Redelivery delays after a failed handling (RETRY_BACKOFF_MS); the last repeats. */
  backoffMs: number[];
  /** A bank call can take BANK_TIMEOUT_MS; the whole flow makes a few. */
  ackWaitMs?: number;
  /**
   * pledge.created in batches (main: createPledgeCreatedBatch): up to `max` events per call,
   * `concurrency` batches at once. Without it, one event at a time through the service.
   */
  pledgeCreatedBatch?: {
    handle: (events: EventEnvelope[]) => Promise<void>;
    max: number;
    concurrency: number;
  };
}

/** Starts the three consumers; stop them (in order) before closing the bus. */
export async function startPledgeConsumers(options: PledgeConsumerOptions): Promise<Subscription[]> {
  const { bus, service, backoffMs } = options;
  const batch = options.pledgeCreatedBatch;
  const ackWaitMs = options.ackWaitMs ?? 60_000;
  return Promise.all([
    batch
      ? bus.subscribeBatch({
          durable: DURABLES.pledgeCreated,
          types: [PledgeCreated.type],
          handleBatch: (items) => batch.handle(items.map((i) => i.event)),
          maxBatch: batch.max,
          // Bank calls are per batch: a 20 ms window turns a burst into few, full batches.
          maxWaitMs: 20,
          concurrency: batch.concurrency,
          maxDeliver: 10,
          backoffMs,
          ackWaitMs,
        })
      : bus.subscribe({
          durable: DURABLES.pledgeCreated,
          types: [PledgeCreated.type],
          handler: async (event) => {
            await service.handlePledgeCreated(event);
          },
          maxDeliver: 10,
          backoffMs,
          ackWaitMs,
        }),
    // A cancel can overtake its pledge.created (separate consumers): the service remembers it for
    // the payment to come instead of waiting for it, so these retries only cover infrastructure errors.
    bus.subscribe({
      durable: DURABLES.pledgeCancelled,
      types: [PledgeCancelled.type],
      handler: async (event) => {
        await service.handlePledgeCancelled(event);
      },
      maxDeliver: 30,
      backoffMs,
      ackWaitMs,
    }),
    bus.subscribe({
      durable: DURABLES.pledgeRefundRequested,
      types: [PledgeRefundRequested.type],
      handler: async (event) => {
        await service.handlePledgeRefundRequested(event);
      },
      maxDeliver: 30,
      backoffMs,
      ackWaitMs,
    }),
  ]);
}
