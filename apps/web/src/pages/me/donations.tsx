// My donations (/me/donations): the signed-in donor's pledges, newest first, a page at a time
// (GET /api/me/pledges with a cursor), each linking to its receipt.
import { A } from "@solidjs/router";
import { onMount, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { createPaged, PagedList, type PageOf } from "../../components/paged-list";
import { ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { formatMoney } from "../../lib/money";
import type { PledgeSummary } from "../receipt";
import { SignedIn } from "./guard";

const PAGE = 20;

function DonationList() {
  const { api } = useServices();
  const list = createPaged<PledgeSummary>(async (after) => {
    const res = await api.client.me.pledges.get({ query: after ? { limit: PAGE, cursor: after } : { limit: PAGE } });
    if (!res.data) throw toProblem(res.error);
    return res.data as unknown as PageOf<PledgeSummary>;
  });
  onMount(() => void list.load(null));

  return (
    <section>
      <h1>My donations</h1>
      <ProblemBox problem={list.problem()} retry={() => void list.load(list.loaded() ? list.cursor() : null)} />
      <PagedList
        list={list}
        loadingLabel="Loading your donations…"
        empty={
          <>
            No donations yet. <A href="/">Find a campaign</A>.
          </>
        }
        testId="my-donations"
        more="More donations"
      >
        {(p) => (
          <li>
            <A href={`/pledges/${p.id}`}>
              <strong>{formatMoney(p.amountMinor, p.currency)}</strong>
            </A>{" "}
            <span class={`badge status-${p.status}`}>{p.status}</span>{" "}
            <time dateTime={p.createdAt}>{new Date(p.createdAt).toLocaleString()}</time>
            <Show when={p.anonymous}> · anonymous</Show>
            <Show when={p.failureReason}>
              <span class="me-reason"> · {p.failureReason}</span>
            </Show>
            <Show when={p.message}>
              <q>{p.message}</q>
            </Show>
          </li>
        )}
      </PagedList>
    </section>
  );
}

export default function MyDonations() {
  return (
    <SignedIn what="My donations">
      <DonationList />
    </SignedIn>
  );
}
