-- The migrator keeps its journal in this schema and creates it first, hence IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS "chat";
--> statement-breakpoint
CREATE TABLE "chat"."campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat"."messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"room" text NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"text" text NOT NULL,
	"client_id" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "messages_text_check" CHECK (char_length("chat"."messages"."text") between 1 and 2000),
	CONSTRAINT "messages_client_id_check" CHECK (char_length("chat"."messages"."client_id") between 1 and 64)
);
--> statement-breakpoint
CREATE INDEX "messages_room_id_idx" ON "chat"."messages" USING btree ("room","id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "messages_user_client_id_key" ON "chat"."messages" USING btree ("user_id","client_id") WHERE client_id is not null;