// A pledge's receipt: the status timeline (pending → authorized → captured, or where it stopped and
// why), updated live. A guest reads and follows it with the receiptToken this browser remembered; a
// signed-in donor as themselves. Each pledge.status push re-reads the pledge for its full history.
import { A, useParams } from "@solidjs/router";
import { createEffect, createResource, For, on, onCleanup, Show } from "solid-js";
import { toProblem } from "../api/problem";
import { Loading, ProblemBox } from "../components/status";
import { useServices } from "../context";
import { formatMoney } from "../lib/money";
import { timeline } from "../lib/timeline";

/** A pledge as the API lists it (My donations shows these); the receipt adds its history. */
export interface PledgeSummary {
  id: string;
  campaignId: string;
  amountMinor: number;
  currency: string;
  status: string;
  anonymous: boolean;
  message: string | null;
  failureReason: string | null;
  createdAt: string;
}

interface PledgeView extends PledgeSummary {
  history: { status: string; at: string }[];
}

const LABEL: Record<string, string> = {
  pending: "Received",
  authorized: "Authorized by the bank",
  captured: "Paid — thank you!",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired",
  refunded: "Refunded",
};

export default function Receipt() {
  const { api, realtime, receipts } = useServices();
  const params = useParams<{ id: string }>();
  const saved = () => receipts.get(params.id);

  const [pledge, { refetch, mutate }] = createResource(
    () => params.id,
    async (id) => {
      const token = saved()?.receiptToken;
      const res = await api.client.pledges({ id }).get({ headers: token ? { "x-receipt-token": token } : {} });
      if (!res.data) throw toProblem(res.error);
      return res.data as unknown as PledgeView;
    },
  );

  createEffect(
    on(
      () => params.id,
      () => onCleanup(realtime.followPledge(params.id, saved()?.receiptToken)),
    ),
  );
  const off = realtime.on((frame) => {
    if (frame.type !== "pledge.status" || frame.pledgeId !== params.id) return;
    const current = pledge();
    if (current)
      mutate({
        ...current,
        status: frame.status,
        failureReason: frame.failureReason,
        history: current.history.some((h) => h.status === frame.status)
          ? current.history
          : [...current.history, { status: frame.status, at: new Date().toISOString() }],
      });
    void refetch();
  });
  const offReconnect = realtime.onReconnect(() => void refetch());
  onCleanup(() => {
    off();
    offReconnect();
  });

  return (
    <section class="receipt">
      <h1>Your donation</h1>
      <Show
        when={!pledge.error}
        fallback={
          <>
            <ProblemBox problem={pledge.error} retry={refetch} />
            <p class="muted">
              A receipt opens in the browser that made the donation, or when you are signed in as its donor.
            </p>
          </>
        }
      >
        <Show when={pledge.latest} fallback={<Loading label="Loading the receipt…" />}>
          {(p) => (
            <div class="panel">
              <p class="amount">{formatMoney(p().amountMinor, p().currency)}</p>
              <Show when={saved()?.campaignTitle}>
                <p>
                  to <A href={`/campaigns/${p().campaignId}`}>{saved()?.campaignTitle}</A>
                </p>
              </Show>
              <Show when={!saved()?.campaignTitle}>
                <p>
                  <A href={`/campaigns/${p().campaignId}`}>See the campaign</A>
                </p>
              </Show>
              <p class="status-line" aria-live="polite">
                Status: <strong data-testid="pledge-status">{p().status}</strong>
              </p>
              <ol class="timeline">
                <For each={timeline(p())}>
                  {(step) => (
                    <li class={`step ${step.state}`} aria-current={step.state === "current" ? "step" : undefined}>
                      <span class="dot" aria-hidden="true" />
                      <span>{LABEL[step.status] ?? step.status}</span>
                      <Show when={step.at}>
                        <time class="muted" datetime={step.at}>
                          {" "}
                          {new Date(step.at as string).toLocaleTimeString()}
                        </time>
                      </Show>
                    </li>
                  )}
                </For>
              </ol>
              <Show when={p().failureReason}>
                <p class="problem" role="alert" data-testid="failure-reason">
                  {p().failureReason}
                </p>
              </Show>
              <dl class="ids">
                <dt>Pledge</dt>
                <dd>
                  <code>{p().id}</code>
                </dd>
                <Show when={saved()?.receiptToken}>
                  <dt>Receipt token (kept in this browser)</dt>
                  <dd>
                    <code class="wrap">{saved()?.receiptToken}</code>
                  </dd>
                </Show>
              </dl>
            </div>
          )}
        </Show>
      </Show>
    </section>
  );
}
