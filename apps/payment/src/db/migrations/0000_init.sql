-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "payment";
--> statement-breakpoint
CREATE TABLE "payment"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "payment"."outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "payment"."payment_history" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "payment"."payment_history_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"payment_id" uuid NOT NULL,
	"status" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"cause" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"pledge_id" uuid NOT NULL,
	"campaign_id" uuid NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"source_account_id" text NOT NULL,
	"source_grant" text NOT NULL,
	"status" text NOT NULL,
	"hold_id" text,
	"capture_transfer_id" text,
	"refund_transfer_id" text,
	"failure_reason" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"refund_requested" boolean DEFAULT false NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "payments_pledge_id_key" UNIQUE("pledge_id"),
	CONSTRAINT "payments_status_check" CHECK ("payment"."payments"."status" in ('authorizing', 'authorized', 'capturing', 'captured', 'refunding', 'refunded', 'failed', 'released', 'expired')),
	CONSTRAINT "payments_currency_check" CHECK ("payment"."payments"."currency" in ('BDT', 'USD', 'EUR')),
	CONSTRAINT "payments_amount_minor_check" CHECK ("payment"."payments"."amount_minor" > 0)
);
--> statement-breakpoint
ALTER TABLE "payment"."payment_history" ADD CONSTRAINT "payment_history_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "payment"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "payment"."outbox" USING btree ("next_attempt_at") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "payment_history_payment_idx" ON "payment"."payment_history" USING btree ("payment_id","id");--> statement-breakpoint
CREATE INDEX "payments_pending_idx" ON "payment"."payments" USING btree ("updated_at") WHERE status in ('authorizing', 'authorized', 'capturing', 'refunding') or (status = 'captured' and (cancel_requested or refund_requested));