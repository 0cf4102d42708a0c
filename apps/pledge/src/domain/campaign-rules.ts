// Whether a campaign (as the read model sees it) accepts a pledge: open, not past its end, and in
// the pledge's currency. `now` is the injected clock's: an end time is enforced to the millisecond.

export interface CampaignView {
  status: "active" | "closed";
  currency: "BDT" | "USD" | "EUR";
  /** When the campaign stops taking pledges (it ends AT this instant); null: open-ended. */
  endsAt: Date | null;
}

export type CampaignRefusal = "unknown" | "closed" | "ended" | "currency";

export type CampaignVerdict = { ok: true } | { ok: false; reason: CampaignRefusal; detail: string };

/** A campaign has ended once its end time is reached, whether or not the sweeper has closed it yet. */
export function campaignEnded(endsAt: Date | null, now: Date): boolean {
  return endsAt !== null && endsAt.getTime() <= now.getTime();
}

/** The verdict for a refusal, with the detail the problem answer carries. */
export function campaignRefusal(
  reason: CampaignRefusal,
  campaignCurrency: string,
  currency: string,
): Exclude<CampaignVerdict, { ok: true }> {
  switch (reason) {
    case "unknown":
      return { ok: false, reason, detail: "The campaign does not exist" };
    case "closed":
      return { ok: false, reason, detail: "The campaign is closed and accepts no more pledges" };
    case "ended":
      return { ok: false, reason, detail: "The campaign has ended and accepts no more pledges" };
    case "currency":
      return { ok: false, reason, detail: `The campaign collects ${campaignCurrency}; the pledge is in ${currency}` };
  }
}

export function campaignAccepts(campaign: CampaignView | undefined, currency: string, now: Date): CampaignVerdict {
  if (!campaign) return campaignRefusal("unknown", "", currency);
  if (campaign.status !== "active") return campaignRefusal("closed", campaign.currency, currency);
  if (campaignEnded(campaign.endsAt, now)) return campaignRefusal("ended", campaign.currency, currency);
  if (campaign.currency !== currency) return campaignRefusal("currency", campaign.currency, currency);
  return { ok: true };
}
