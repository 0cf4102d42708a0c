// Edit a campaign (/campaigns/:id/edit, its owner or an admin): the form filled from the campaign,
// PATCH /api/campaigns/:id with only what changed, then back to its page. A closed or ended campaign
// cannot change: the page says so instead of offering a form the server would refuse.
import { A, useNavigate, useParams } from "@solidjs/router";
import { createResource, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { draftFrom, patchBody } from "../../lib/campaign-form";
import { canManage } from "../../lib/can-manage";
import type { CampaignView } from "../campaigns";
import { SignedIn } from "../me/guard";
import { CampaignForm } from "./campaign-form";

function EditForm() {
  const { api } = useServices();
  const navigate = useNavigate();
  const params = useParams<{ id: string }>();
  const [campaign, { refetch }] = createResource(
    () => params.id,
    async (id) => {
      const res = await api.client.campaigns({ id }).get();
      if (!res.data) throw toProblem(res.error);
      return res.data as unknown as CampaignView;
    },
  );
  const user = api.session.user;
  const mayEdit = (c: CampaignView) => canManage(user(), c);

  return (
    <section class="narrow wide-form">
      <Show when={!campaign.error} fallback={<ProblemBox problem={campaign.error} retry={refetch} />}>
        <Show when={campaign()} fallback={<Loading label="Loading the campaign…" />}>
          {(c) => (
            <>
              <p class="crumbs">
                <A href={`/campaigns/${c().id}`}>{c().title}</A>
              </p>
              <h1>Edit the campaign</h1>
              <Show
                when={mayEdit(c())}
                fallback={
                  <p class="problem" role="alert">
                    <strong>Only its owner can change this campaign.</strong>
                  </p>
                }
              >
                <Show
                  when={c().status === "active"}
                  fallback={
                    <p class="problem" role="alert">
                      <strong>This campaign is closed.</strong> A closed campaign can no longer be changed.
                    </p>
                  }
                >
                  <CampaignForm
                    initial={draftFrom(c())}
                    original={c()}
                    submitLabel="Save changes"
                    busyLabel="Saving…"
                    onSubmit={async (draft) => {
                      const patch = patchBody(draft, c());
                      if (Object.keys(patch).length > 0) {
                        const res = await api.client.campaigns({ id: c().id }).patch(patch);
                        if (!res.data) throw toProblem(res.error);
                      }
                      navigate(`/campaigns/${c().id}`);
                    }}
                  >
                    <A href={`/campaigns/${c().id}`} class="button-link secondary">
                      Cancel
                    </A>
                  </CampaignForm>
                </Show>
              </Show>
            </>
          )}
        </Show>
      </Show>
    </section>
  );
}

export default function EditCampaign() {
  return (
    <SignedIn what="Edit a campaign">
      <EditForm />
    </SignedIn>
  );
}
