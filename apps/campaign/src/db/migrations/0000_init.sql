-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "campaign";
--> statement-breakpoint
CREATE TABLE "campaign"."campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"goal_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"raised_minor" bigint DEFAULT 0 NOT NULL,
	"donor_count" integer DEFAULT 0 NOT NULL,
	"pledge_count" integer DEFAULT 0 NOT NULL,
	"ends_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "campaigns_currency_check" CHECK ("campaign"."campaigns"."currency" in ('BDT', 'USD', 'EUR')),
	CONSTRAINT "campaigns_status_check" CHECK ("campaign"."campaigns"."status" in ('active', 'closed')),
	CONSTRAINT "campaigns_goal_minor_check" CHECK ("campaign"."campaigns"."goal_minor" >= 100)
);
--> statement-breakpoint
CREATE TABLE "campaign"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "campaign"."outbox" (
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
CREATE INDEX "campaigns_status_id_idx" ON "campaign"."campaigns" USING btree ("status","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "campaign"."outbox" USING btree ("next_attempt_at") WHERE published_at is null;