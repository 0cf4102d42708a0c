-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "pledge";
--> statement-breakpoint
CREATE TABLE "pledge"."campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "campaigns_currency_check" CHECK ("pledge"."campaigns"."currency" in ('BDT', 'USD', 'EUR')),
	CONSTRAINT "campaigns_status_check" CHECK ("pledge"."campaigns"."status" in ('active', 'closed'))
);
--> statement-breakpoint
CREATE TABLE "pledge"."idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"state" text NOT NULL,
	"lock_id" uuid NOT NULL,
	"locked_at" timestamp with time zone NOT NULL,
	"response_status" integer,
	"response_body" jsonb,
	"sealed_receipt_token" text,
	"pledge_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key"),
	CONSTRAINT "idempotency_keys_state_check" CHECK ("pledge"."idempotency_keys"."state" in ('in_flight', 'done'))
);
--> statement-breakpoint
CREATE TABLE "pledge"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "pledge"."outbox" (
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
CREATE TABLE "pledge"."pledge_history" (
	"pledge_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"status" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "pledge_history_pledge_id_seq_pk" PRIMARY KEY("pledge_id","seq")
);
--> statement-breakpoint
CREATE TABLE "pledge"."pledges" (
	"id" uuid PRIMARY KEY NOT NULL,
	"campaign_id" uuid NOT NULL,
	"donor_id" uuid,
	"donor_key" text NOT NULL,
	"donor_name" text,
	"guest_email" text,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"anonymous" boolean DEFAULT false NOT NULL,
	"message" text,
	"failure_reason" text,
	"source_account_id" text NOT NULL,
	"receipt_token_hash" text,
	"refund_requested_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "pledges_currency_check" CHECK ("pledge"."pledges"."currency" in ('BDT', 'USD', 'EUR')),
	CONSTRAINT "pledges_status_check" CHECK ("pledge"."pledges"."status" in ('pending', 'authorized', 'captured', 'failed', 'cancelled', 'expired', 'refunded')),
	CONSTRAINT "pledges_amount_minor_check" CHECK ("pledge"."pledges"."amount_minor" between 100 and 100000000)
);
--> statement-breakpoint
ALTER TABLE "pledge"."pledge_history" ADD CONSTRAINT "pledge_history_pledge_id_pledges_id_fk" FOREIGN KEY ("pledge_id") REFERENCES "pledge"."pledges"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_at_idx" ON "pledge"."idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "pledge"."outbox" USING btree ("next_attempt_at") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "pledges_donor_id_idx" ON "pledge"."pledges" USING btree ("donor_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "pledges_status_id_idx" ON "pledge"."pledges" USING btree ("status","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "pledges_campaign_status_id_idx" ON "pledge"."pledges" USING btree ("campaign_id","status","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "pledges_open_created_idx" ON "pledge"."pledges" USING btree ("created_at") WHERE status in ('pending', 'authorized');