// Whether a campaign (as the read model sees it) accepts a pledge: open, and in the pledge's currency.

export interface CampaignView {
  status: "active" | "closed";
  currency: "BDT" | "USD" | "EUR";
}

export type CampaignVerdict = { ok: true } | { ok: false; reason: "unknown" | "closed" | "currency"; detail: string };

export function campaignAccepts(campaign: CampaignView | undefined, currency: string): CampaignVerdict {
  if (!campaign) return { ok: false, reason: "unknown", detail: "The campaign does not exist" };
  if (campaign.status !== "active")
    return { ok: false, reason: "closed", detail: "The campaign is closed and accepts no more pledges" };
  if (campaign.currency !== currency)
    return {
      ok: false,
      reason: "currency",
      detail: `The campaign collects ${campaign.currency}; the pledge is in ${currency}`,
    };
  return { ok: true };
}
