CREATE TABLE "campaign"."campaign_donors" (
	"campaign_id" uuid NOT NULL,
	"donor_key" text NOT NULL,
	"captured_count" integer NOT NULL,
	CONSTRAINT "campaign_donors_campaign_id_donor_key_pk" PRIMARY KEY("campaign_id","donor_key"),
	CONSTRAINT "campaign_donors_count_check" CHECK ("campaign"."campaign_donors"."captured_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "campaign"."donations" (
	"pledge_id" uuid PRIMARY KEY NOT NULL,
	"campaign_id" uuid NOT NULL,
	"donor_key" text NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"donor_name" text,
	"message" text,
	"captured_at" timestamp with time zone NOT NULL,
	"refunded_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "donations_campaign_captured_idx" ON "campaign"."donations" USING btree ("campaign_id","captured_at" DESC NULLS LAST,"pledge_id" DESC NULLS LAST);--> statement-breakpoint
ALTER TABLE "campaign"."campaigns" ADD CONSTRAINT "campaigns_totals_check" CHECK ("campaign"."campaigns"."raised_minor" >= 0 and "campaign"."campaigns"."donor_count" >= 0 and "campaign"."campaigns"."pledge_count" >= 0);