// The payment service's inbox consumer names, in a module of their own so every handler module
// can use them without importing the service that composes the handlers.

/** Inbox consumer names: one per event source, so ids from different sources never collide. */
export const CONSUMERS = {
  pledgeCreated: "payment-pledge-created",
  pledgeCancelled: "payment-pledge-cancelled",
  pledgeRefundRequested: "payment-pledge-refund-requested",
  webhook: "bank-webhook",
  /**
   * Not an event source: the inbox row (keyed by the pledge id) that remembers a pledge.cancelled
   * which arrived before its pledge.created, so the payment starts already cancelled.
   */
  cancelledBeforeCreated: "payment-cancelled-before-created",
} as const;
