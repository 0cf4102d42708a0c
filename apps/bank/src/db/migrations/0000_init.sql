-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "bank";
--> statement-breakpoint
CREATE TABLE "bank"."accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_type" text NOT NULL,
	"owner_id" text,
	"currency" text NOT NULL,
	"balance_minor" bigint DEFAULT 0 NOT NULL,
	"held_minor" bigint DEFAULT 0 NOT NULL,
	"secret_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_owner_type_check" CHECK ("bank"."accounts"."owner_type" in ('user', 'campaign', 'demo', 'test', 'system')),
	CONSTRAINT "accounts_currency_check" CHECK ("bank"."accounts"."currency" in ('BDT', 'USD', 'EUR')),
	CONSTRAINT "accounts_held_check" CHECK ("bank"."accounts"."held_minor" >= 0),
	CONSTRAINT "accounts_available_check" CHECK ("bank"."accounts"."owner_type" = 'system' or "bank"."accounts"."balance_minor" - "bank"."accounts"."held_minor" >= 0)
);
--> statement-breakpoint
CREATE TABLE "bank"."entries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "bank"."entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"transfer_id" uuid NOT NULL,
	"account_id" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"balance_after_minor" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entries_amount_check" CHECK ("bank"."entries"."amount_minor" <> 0)
);
--> statement-breakpoint
CREATE TABLE "bank"."fault_settings" (
	"id" integer PRIMARY KEY NOT NULL,
	"settings" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bank"."holds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"account_id" text NOT NULL,
	"campaign_id" text NOT NULL,
	"to_account_id" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text DEFAULT 'held' NOT NULL,
	"captured_minor" bigint DEFAULT 0 NOT NULL,
	"refunded_minor" bigint DEFAULT 0 NOT NULL,
	"payment_ref" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "holds_idempotency_key_key" UNIQUE("idempotency_key"),
	CONSTRAINT "holds_status_check" CHECK ("bank"."holds"."status" in ('held', 'captured', 'released', 'expired')),
	CONSTRAINT "holds_amount_check" CHECK ("bank"."holds"."amount_minor" > 0),
	CONSTRAINT "holds_captured_check" CHECK ("bank"."holds"."captured_minor" >= 0 and "bank"."holds"."captured_minor" <= "bank"."holds"."amount_minor"),
	CONSTRAINT "holds_refunded_check" CHECK ("bank"."holds"."refunded_minor" >= 0 and "bank"."holds"."refunded_minor" <= "bank"."holds"."captured_minor")
);
--> statement-breakpoint
CREATE TABLE "bank"."idempotency" (
	"key" text NOT NULL,
	"operation" text NOT NULL,
	"request_hash" text NOT NULL,
	"status_code" integer NOT NULL,
	"response" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_pkey" PRIMARY KEY("key","operation")
);
--> statement-breakpoint
CREATE TABLE "bank"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "bank"."outbox" (
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
CREATE TABLE "bank"."transfers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"hold_id" uuid,
	"debit_account_id" text NOT NULL,
	"credit_account_id" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "transfers_kind_check" CHECK ("bank"."transfers"."kind" in ('funding', 'capture', 'refund')),
	CONSTRAINT "transfers_amount_check" CHECK ("bank"."transfers"."amount_minor" > 0),
	CONSTRAINT "transfers_distinct_accounts_check" CHECK ("bank"."transfers"."debit_account_id" <> "bank"."transfers"."credit_account_id")
);
--> statement-breakpoint
CREATE TABLE "bank"."webhook_deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"dropped" boolean DEFAULT false NOT NULL,
	"held_back" boolean DEFAULT false NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bank"."entries" ADD CONSTRAINT "entries_transfer_id_transfers_id_fk" FOREIGN KEY ("transfer_id") REFERENCES "bank"."transfers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."entries" ADD CONSTRAINT "entries_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "bank"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."holds" ADD CONSTRAINT "holds_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "bank"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."holds" ADD CONSTRAINT "holds_to_account_id_accounts_id_fk" FOREIGN KEY ("to_account_id") REFERENCES "bank"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."transfers" ADD CONSTRAINT "transfers_hold_id_holds_id_fk" FOREIGN KEY ("hold_id") REFERENCES "bank"."holds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."transfers" ADD CONSTRAINT "transfers_debit_account_id_accounts_id_fk" FOREIGN KEY ("debit_account_id") REFERENCES "bank"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bank"."transfers" ADD CONSTRAINT "transfers_credit_account_id_accounts_id_fk" FOREIGN KEY ("credit_account_id") REFERENCES "bank"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_owner_key" ON "bank"."accounts" USING btree ("owner_type","owner_id") WHERE owner_id is not null;--> statement-breakpoint
CREATE INDEX "entries_account_id_idx" ON "bank"."entries" USING btree ("account_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "entries_transfer_idx" ON "bank"."entries" USING btree ("transfer_id");--> statement-breakpoint
CREATE INDEX "holds_held_expiry_idx" ON "bank"."holds" USING btree ("expires_at") WHERE status = 'held';--> statement-breakpoint
CREATE INDEX "holds_account_idx" ON "bank"."holds" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "bank"."outbox" USING btree ("next_attempt_at") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "transfers_hold_idx" ON "bank"."transfers" USING btree ("hold_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "bank"."webhook_deliveries" USING btree ("next_attempt_at") WHERE delivered_at is null;