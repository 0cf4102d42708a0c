// My donations (/me/donations): the signed-in donor's pledges, newest first, a page at a time
// (GET /api/me/pledges with a cursor), each linking to its receipt.
import { A } from "@solidjs/router";
import { createSignal, For, onMount, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../../api/problem";
import { Empty, Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { formatMoney } from "../../lib/money";
import { SignedIn } from "./guard";

interface PledgeRow {
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

const PAGE = 20;

function DonationList() {
  const { api } = useServices();
  const [items, setItems] = createSignal<PledgeRow[]>([]);
  const [cursor, setCursor] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [loaded, setLoaded] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);

  async function load(after: string | null) {
    setLoading(true);
    setProblem(null);
    try {
      const res = await api.client.me.pledges.get({ query: after ? { limit: PAGE, cursor: after } : { limit: PAGE } });
      if (!res.data) throw toProblem(res.error);
      const page = res.data as unknown as { items: PledgeRow[]; nextCursor: string | null };
      setItems((list) => (after ? [...list, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setLoaded(true);
    } catch (err) {
      setProblem(err as ProblemDetails);
    } finally {
      setLoading(false);
    }
  }
  onMount(() => void load(null));

  return (
    <section>
      <h1>My donations</h1>
      <ProblemBox problem={problem()} retry={() => void load(loaded() ? cursor() : null)} />
      <Show when={loaded()} fallback={<Show when={!problem()}>{<Loading label="Loading your donations…" />}</Show>}>
        <Show
          when={items().length > 0}
          fallback={
            <Empty>
              No donations yet. <A href="/">Find a campaign</A>.
            </Empty>
          }
        >
          <ul class="me-list" data-testid="my-donations">
            <For each={items()}>
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
            </For>
          </ul>
          <Show when={cursor()}>
            <button type="button" class="link" disabled={loading()} onClick={() => void load(cursor())}>
              {loading() ? "Loading…" : "More donations"}
            </button>
          </Show>
        </Show>
      </Show>
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
