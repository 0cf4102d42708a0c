DROP INDEX "bank"."outbox_unpublished_idx";--> statement-breakpoint
CREATE INDEX "outbox_unpublished_id_idx" ON "bank"."outbox" USING btree ("id") WHERE published_at is null;