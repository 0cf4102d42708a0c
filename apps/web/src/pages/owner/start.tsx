// Start a campaign (/campaigns/new, signed in): the form, POST /api/campaigns, then the new campaign's
// own page (the caller is its owner).
import { useNavigate } from "@solidjs/router";
import { toProblem } from "../../api/problem";
import { useServices } from "../../context";
import { createBody, emptyDraft } from "../../lib/campaign-form";
import { SignedIn } from "../me/guard";
import { CampaignForm } from "./campaign-form";

function StartForm() {
  const { api } = useServices();
  const navigate = useNavigate();
  return (
    <section class="narrow wide-form">
      <h1>Start a campaign</h1>
      <p class="muted">You will be its owner: you can change its story, goal and end, and close it, at any time.</p>
      <CampaignForm
        initial={emptyDraft()}
        submitLabel="Start the campaign"
        busyLabel="Starting…"
        onSubmit={async (draft) => {
          const res = await api.client.campaigns.post(createBody(draft));
          if (!res.data) throw toProblem(res.error);
          navigate(`/campaigns/${res.data.id}`);
        }}
      />
    </section>
  );
}

export default function StartCampaign() {
  return (
    <SignedIn what="Start a campaign">
      <StartForm />
    </SignedIn>
  );
}
