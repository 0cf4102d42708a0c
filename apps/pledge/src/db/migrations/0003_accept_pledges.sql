-- Group commit of accepts (DESIGN "Cost per donation"): the pledge service gathers the accepts
-- that arrive while its write slots are busy and sends them as ONE statement, so a burst costs one
-- round trip and one commit per batch instead of one per donation. Each item is exactly one call
-- of `pledge.accept_pledge` (0001), with every rule and answer of a single accept: the batch only
-- shares the transaction. Items are taken in (scope, key) order, so two batches that hold the same
-- keys lock them in the same order and cannot deadlock; the same key twice in one batch behaves as
-- two requests one after the other (the second finds the first's answer). If any item fails, the
-- whole batch rolls back and the service tries each item alone.
--
-- p_items: a JSON array of objects, one per accept, with the parameters of `accept_pledge` under
-- the names below and `i`, the item's index, returned with its row.
CREATE OR REPLACE FUNCTION "pledge"."accept_pledges"(p_items jsonb)
RETURNS TABLE (
	i integer, outcome text, campaign_currency text, state text, request_hash text,
	response_status integer, response_body jsonb, sealed_receipt_token text
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT * FROM jsonb_to_recordset(p_items) AS x(
			i integer, scope text, key text, request_hash text,
			now timestamptz, expires_at timestamptz, stale_before timestamptz, refused boolean,
			id uuid, campaign_id uuid, donor_id uuid, donor_key text, donor_name text, guest_email text,
			amount_minor bigint, currency text, anonymous boolean, message text, source_account_id text,
			receipt_token_hash text, sealed_receipt_token text, response_body jsonb,
			event_id uuid, event jsonb, event_headers jsonb, lock_id uuid)
		ORDER BY x.scope, x.key, x.i
	LOOP
		RETURN QUERY SELECT r.i, a.outcome, a.campaign_currency, a.state, a.request_hash,
			a.response_status, a.response_body, a.sealed_receipt_token
		FROM "pledge"."accept_pledge"(
			r.scope, r.key, r.request_hash, r.now, r.expires_at, r.stale_before, r.refused,
			r.id, r.campaign_id, r.donor_id, r.donor_key, r.donor_name, r.guest_email,
			r.amount_minor, r.currency, r.anonymous, r.message, r.source_account_id,
			r.receipt_token_hash, r.sealed_receipt_token, r.response_body,
			r.event_id, r.event, r.event_headers, r.lock_id) a;
	END LOOP;
END
$$;
