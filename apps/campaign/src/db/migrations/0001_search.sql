-- Case-insensitive substring search on titles (`?q=`): a trigram GIN index on lower(title)
-- serves `lower(title) LIKE '%…%'`, which a btree cannot. drizzle-kit cannot express opclass
-- indexes on expressions together with the extension, hence this hand-written migration.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "campaigns_title_trgm_idx" ON "campaign"."campaigns" USING gin (lower("title") gin_trgm_ops);
