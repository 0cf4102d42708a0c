-- Campaign end dates (issue 8): the sweeper closes active campaigns whose ends_at has passed,
-- earliest first; this partial index is its scan (closed and open-ended campaigns are not in it).
CREATE INDEX "campaigns_active_ends_at_idx" ON "campaign"."campaigns" USING btree ("ends_at") WHERE status = 'active' and ends_at is not null;
