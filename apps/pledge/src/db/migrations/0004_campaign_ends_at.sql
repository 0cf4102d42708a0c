-- Campaign end dates (issue 8): the read model keeps each campaign's end time, and the accept
-- statement refuses a pledge from that instant on with the outcome 'ended' (409 campaign-ended),
-- in the same single statement and round trip as before. `accept_pledge` is 0001's function with
-- that one check added; `accept_pledges` (0003) calls it unchanged.
ALTER TABLE "pledge"."campaigns" ADD COLUMN "ends_at" timestamp with time zone;--> statement-breakpoint
CREATE OR REPLACE FUNCTION "pledge"."accept_pledge"(
	p_scope text, p_key text, p_request_hash text,
	p_now timestamptz, p_expires_at timestamptz, p_stale_before timestamptz,
	p_refused boolean,
	p_id uuid, p_campaign_id uuid, p_donor_id uuid, p_donor_key text, p_donor_name text, p_guest_email text,
	p_amount_minor bigint, p_currency text, p_anonymous boolean, p_message text, p_source_account_id text,
	p_receipt_token_hash text, p_sealed_receipt_token text, p_response_body jsonb,
	p_event_id uuid, p_event jsonb, p_event_headers jsonb,
	p_lock_id uuid
) RETURNS TABLE (
	outcome text, campaign_currency text, state text, request_hash text,
	response_status integer, response_body jsonb, sealed_receipt_token text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_status text;
	v_currency text;
	v_ends_at timestamptz;
	v_ended boolean;
	v_claimed boolean;
BEGIN
	-- No row lock: the read model follows campaign events anyway, and a share lock on a hot
	-- campaign would make every concurrent pledge write a multixact.
	SELECT c.status, c.currency, c.ends_at INTO v_status, v_currency, v_ends_at
	FROM "pledge"."campaigns" c WHERE c.id = p_campaign_id;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::text;
		RETURN;
	END IF;
	-- A campaign ends AT ends_at (p_now is the service's clock): refused from that instant on, even
	-- before the campaign service's sweeper has closed it. Same order as campaignAccepts.
	v_ended := v_ends_at IS NOT NULL AND v_ends_at <= p_now;
	IF v_status <> 'active' OR v_ended OR v_currency <> p_currency OR p_refused THEN
		RETURN QUERY SELECT (CASE WHEN v_status <> 'active' THEN 'closed' WHEN v_ended THEN 'ended'
			WHEN v_currency <> p_currency THEN 'currency' ELSE 'refused' END)::text,
			v_currency, NULL::text, NULL::text, NULL::integer, NULL::jsonb, NULL::text;
		RETURN;
	END IF;

	-- The primary key decides races: a concurrent same-key request waits here for ours to commit,
	-- then finds our answer. An existing row is taken over only when it is our own claim
	-- (p_lock_id: the request claimed the key before asking the bank), when it has expired, or
	-- when it is this same request's claim left by a process that died (older than the lock).
	INSERT INTO "pledge"."idempotency_keys" AS k
		(scope, key, request_hash, state, lock_id, locked_at, response_status, response_body,
		 sealed_receipt_token, pledge_id, created_at, expires_at)
	VALUES (p_scope, p_key, p_request_hash, 'done', p_id, p_now, 202, p_response_body,
		p_sealed_receipt_token, p_id, p_now, p_expires_at)
	ON CONFLICT (scope, key) DO UPDATE SET
		request_hash = excluded.request_hash, state = 'done', lock_id = excluded.lock_id,
		locked_at = excluded.locked_at, response_status = 202, response_body = excluded.response_body,
		sealed_receipt_token = excluded.sealed_receipt_token, pledge_id = excluded.pledge_id,
		created_at = excluded.created_at, expires_at = excluded.expires_at
	WHERE (k.state = 'in_flight' AND k.lock_id = p_lock_id)
		OR k.expires_at <= p_now
		OR (k.state = 'in_flight' AND k.locked_at <= p_stale_before AND k.request_hash = excluded.request_hash)
	RETURNING true INTO v_claimed;

	IF v_claimed IS NULL THEN
		RETURN QUERY SELECT 'existing'::text, v_currency, k.state, k.request_hash, k.response_status,
			k.response_body, k.sealed_receipt_token
		FROM "pledge"."idempotency_keys" k WHERE k.scope = p_scope AND k.key = p_key;
		RETURN;
	END IF;

	INSERT INTO "pledge"."pledges"
		(id, campaign_id, donor_id, donor_key, donor_name, guest_email, amount_minor, currency, status,
		 anonymous, message, failure_reason, source_account_id, receipt_token_hash, created_at, updated_at, version)
	VALUES (p_id, p_campaign_id, p_donor_id, p_donor_key, p_donor_name, p_guest_email, p_amount_minor, p_currency,
		'pending', p_anonymous, p_message, NULL, p_source_account_id, p_receipt_token_hash, p_now, p_now, 1);
	INSERT INTO "pledge"."pledge_history" (pledge_id, seq, status, at) VALUES (p_id, 1, 'pending', p_now);
	INSERT INTO "pledge"."outbox" (id, type, aggregate_id, envelope, headers)
	VALUES (p_event_id, 'pledge.created', p_id::text, p_event, p_event_headers);

	RETURN QUERY SELECT 'created'::text, v_currency, 'done'::text, p_request_hash, 202, NULL::jsonb, NULL::text;
END
$$;
