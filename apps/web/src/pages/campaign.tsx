// A campaign: its story, the goal bar and numbers that move live (campaign.totals over the tab's one
// WebSocket), recent donations, and the donate panel. After a reconnect the page re-reads the
// campaign: pushes missed while away are not replayed. Its owner (and admins) also get Edit and Close.
import { A, useParams } from "@solidjs/router";
import { createEffect, createResource, createSignal, For, on, onCleanup, Show } from "solid-js";
import { toProblem } from "../api/problem";
import { ChatRoom } from "../components/chat-lazy";
import { DonatePanel } from "../components/donate-panel";
import { GoalBar } from "../components/goal-bar";
import { OwnerActions } from "../components/owner-lazy";
import { Empty, Loading, ProblemBox } from "../components/status";
import { useServices } from "../context";
import { canManage } from "../lib/can-manage";
import { formatMoney } from "../lib/money";
import type { CampaignView } from "./campaigns";

interface Donation {
  id: string;
  amountMinor: number;
  currency: string;
  donorName: string | null;
  message: string | null;
  capturedAt: string;
}

export default function CampaignPage() {
  const { api, realtime } = useServices();
  const params = useParams<{ id: string }>();
  const [totals, setTotals] = createSignal<{ raisedMinor: number; donorCount: number; pledgeCount: number } | null>(
    null,
  );

  const user = api.session.user;
  const [campaign, { refetch, mutate }] = createResource(
    () => params.id,
    async (id) => {
      const res = await api.client.campaigns({ id }).get();
      if (!res.data) throw toProblem(res.error);
      return res.data as unknown as CampaignView;
    },
  );
  const [donations, donationsActions] = createResource(
    () => params.id,
    async (id) => {
      const res = await api.client.campaigns({ id }).donations.get({ query: { limit: 10 } });
      return (res.data?.items ?? []) as Donation[];
    },
  );

  // The list of donations is re-read at most every 2 s however fast donations arrive: every open
  // page re-reading it on every push would turn a busy campaign into a storm of reads.
  let donationsTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshDonationsSoon = () => {
    donationsTimer ??= setTimeout(() => {
      donationsTimer = undefined;
      void donationsActions.refetch();
    }, 2_000);
  };

  // Followed for as long as this campaign is shown (the same page may be handed another id).
  createEffect(
    on(
      () => params.id,
      (id) => {
        setTotals(null);
        onCleanup(realtime.followCampaign(id));
      },
    ),
  );
  const offFrame = realtime.on((frame) => {
    if (frame.type === "campaign.totals" && frame.campaignId === params.id) {
      setTotals({ raisedMinor: frame.raisedMinor, donorCount: frame.donorCount, pledgeCount: frame.pledgeCount });
      refreshDonationsSoon();
    }
  });
  const offReconnect = realtime.onReconnect(() => {
    void refetch();
    void donationsActions.refetch();
  });
  onCleanup(() => {
    clearTimeout(donationsTimer);
    offFrame();
    offReconnect();
  });

  // A push and the GET can cross: whichever has seen more pledges is the newer one.
  const live = () => {
    const c = campaign();
    const t = totals();
    return c ? (t && t.pledgeCount >= c.pledgeCount ? { ...c, ...t } : c) : undefined;
  };

  return (
    <Show
      when={!campaign.error}
      fallback={
        <section>
          <ProblemBox problem={campaign.error} retry={refetch} />
          <A href="/">Back to campaigns</A>
        </section>
      }
    >
      <Show when={live()} fallback={<Loading label="Loading the campaign…" />}>
        {(c) => (
          <div class="campaign">
            <article class="story">
              <p class="crumbs">
                <A href="/">Campaigns</A>
              </p>
              <h1>{c().title}</h1>
              <Show when={c().status === "closed"}>
                <span class="badge" data-testid="closed-badge">
                  Closed
                </span>
              </Show>
              <Show when={canManage(user(), c())}>
                <OwnerActions campaign={c()} onChange={(next) => mutate(next)} />
              </Show>
              <div aria-live="polite">
                <GoalBar
                  large
                  raisedMinor={c().raisedMinor}
                  goalMinor={c().goalMinor}
                  currency={c().currency}
                  donorCount={c().donorCount}
                />
              </div>
              <div class="description">
                <For each={c().description.split(/\n{2,}/)}>{(para) => <p>{para}</p>}</For>
              </div>
              <h2>Recent donations</h2>
              <Show when={donations()} fallback={<Loading label="Loading donations…" />}>
                {(list) => (
                  <Show when={list().length > 0} fallback={<Empty>No donations yet: be the first.</Empty>}>
                    <ul class="donations">
                      <For each={list()}>
                        {(d) => (
                          <li>
                            <strong>{formatMoney(d.amountMinor, d.currency)}</strong> from {d.donorName ?? "Anonymous"}
                            <Show when={d.message}>
                              <q>{d.message}</q>
                            </Show>
                          </li>
                        )}
                      </For>
                    </ul>
                  </Show>
                )}
              </Show>
              <ChatRoom room={`campaign:${c().id}`} title="Questions & answers" />
            </article>
            <aside>
              <DonatePanel campaign={c()} onRefused={() => void refetch()} />
            </aside>
          </div>
        )}
      </Show>
    </Show>
  );
}
