-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "notification";
--> statement-breakpoint
CREATE TABLE "notification"."admin_reads" (
	"notification_id" uuid NOT NULL,
	"admin_id" uuid NOT NULL,
	"read_at" timestamp with time zone NOT NULL,
	CONSTRAINT "admin_reads_notification_id_admin_id_pk" PRIMARY KEY("notification_id","admin_id")
);
--> statement-breakpoint
CREATE TABLE "notification"."audit_state" (
	"id" integer PRIMARY KEY NOT NULL,
	"last_drift_minor" bigint NOT NULL,
	"last_checked_at" timestamp with time zone NOT NULL,
	"alerted" boolean NOT NULL,
	CONSTRAINT "audit_state_single_row" CHECK ("notification"."audit_state"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "notification"."campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"title" text NOT NULL,
	"goal_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"raised_minor" bigint NOT NULL,
	"donor_count" integer NOT NULL,
	"pledge_count" integer NOT NULL,
	"version" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification"."inbox" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "notification"."notifications" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"recipient" text NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"pledge_id" uuid,
	"campaign_id" uuid,
	"at" timestamp with time zone NOT NULL,
	"read_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "notification"."pledges" (
	"id" uuid PRIMARY KEY NOT NULL,
	"campaign_id" uuid NOT NULL,
	"donor_id" uuid,
	"status" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"stuck_notified" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_once_idx" ON "notification"."notifications" USING btree ("recipient","kind","subject");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_recipient_seq_idx" ON "notification"."notifications" USING btree ("recipient","seq" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "pledges_open_created_idx" ON "notification"."pledges" USING btree ("created_at") WHERE status in ('pending', 'authorized') and not stuck_notified;