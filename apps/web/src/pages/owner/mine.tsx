// My campaigns (/me/campaigns): the campaigns the signed-in user started, active and closed, newest
// first, a page at a time (GET /api/me/campaigns), each with its goal bar, and a way to start one.
import { A } from "@solidjs/router";
import { onMount, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { GoalBar } from "../../components/goal-bar";
import { createPaged, PagedList, type PageOf } from "../../components/paged-list";
import { ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import type { CampaignView } from "../campaigns";
import { SignedIn } from "../me/guard";

const PAGE = 20;

function CampaignList() {
  const { api } = useServices();
  const list = createPaged<CampaignView>(async (after) => {
    const res = await api.client.me.campaigns.get({
      query: after ? { limit: PAGE, cursor: after } : { limit: PAGE },
    });
    if (!res.data) throw toProblem(res.error);
    return res.data as unknown as PageOf<CampaignView>;
  });
  onMount(() => void list.load(null));

  return (
    <section>
      <div class="title-row">
        <h1>My campaigns</h1>
        <A href="/campaigns/new" class="button-link">
          Start a campaign
        </A>
      </div>
      <ProblemBox problem={list.problem()} retry={() => void list.load(list.loaded() ? list.cursor() : null)} />
      <PagedList
        list={list}
        loadingLabel="Loading your campaigns…"
        empty={
          <>
            You have not started a campaign yet. <A href="/campaigns/new">Start one</A>.
          </>
        }
        testId="my-campaigns"
        more="More campaigns"
      >
        {(c) => (
          <li class="my-campaign">
            <div class="title-row">
              <h2>
                <A href={`/campaigns/${c.id}`}>{c.title}</A>
              </h2>
              <span class={`badge status-${c.status}`}>{c.status === "active" ? "Active" : "Closed"}</span>
            </div>
            <GoalBar
              raisedMinor={c.raisedMinor}
              goalMinor={c.goalMinor}
              currency={c.currency}
              donorCount={c.donorCount}
            />
            <Show when={c.endsAt}>
              {(end) => (
                <p class="muted">
                  {c.status === "active" ? "Ends" : "Ended"}{" "}
                  <time dateTime={end()}>{new Date(end()).toLocaleDateString()}</time>
                </p>
              )}
            </Show>
            <Show when={c.status === "active"}>
              <A href={`/campaigns/${c.id}/edit`} aria-label={`Edit ${c.title}`}>
                Edit
              </A>
            </Show>
          </li>
        )}
      </PagedList>
    </section>
  );
}

export default function MyCampaigns() {
  return (
    <SignedIn what="My campaigns">
      <CampaignList />
    </SignedIn>
  );
}
