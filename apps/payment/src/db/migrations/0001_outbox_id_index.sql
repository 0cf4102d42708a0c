DROP INDEX "payment"."outbox_unpublished_idx";--> statement-breakpoint
CREATE INDEX "outbox_unpublished_id_idx" ON "payment"."outbox" USING btree ("id") WHERE published_at is null;