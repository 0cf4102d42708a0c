// Campaigns: search, active/closed filter, cards with the goal bar, cursor paging ("Show more").
// The search and filter live in the URL, so a link or a reload shows the same list.
import { A, useSearchParams } from "@solidjs/router";
import { createEffect, createSignal, For, on, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../api/problem";
import { GoalBar } from "../components/goal-bar";
import { Empty, Loading, ProblemBox } from "../components/status";
import { useServices } from "../context";

export interface CampaignView {
  id: string;
  ownerId: string;
  title: string;
  description: string;
  goalMinor: number;
  currency: string;
  status: "active" | "closed";
  raisedMinor: number;
  donorCount: number;
  pledgeCount: number;
  endsAt: string | null;
  createdAt: string;
}

const PAGE = 12;

export default function Campaigns() {
  const { api } = useServices();
  const [params, setParams] = useSearchParams<{ q?: string; status?: string }>();
  const [items, setItems] = createSignal<CampaignView[]>([]);
  const [cursor, setCursor] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(true);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [query, setQuery] = createSignal(params.q ?? "");
  let request = 0;

  const status = () => (params.status === "closed" ? "closed" : params.status === "all" ? undefined : "active");

  async function load(more: boolean) {
    const mine = ++request;
    setLoading(true);
    setProblem(null);
    const res = await api.client.campaigns
      .get({
        query: {
          limit: PAGE,
          ...(status() ? { status: status() } : {}),
          ...(params.q ? { q: params.q } : {}),
          ...(more && cursor() ? { cursor: cursor() as string } : {}),
        },
      })
      .catch((error) => ({ data: null, error }));
    if (mine !== request) return;
    setLoading(false);
    if (!res.data) return setProblem(toProblem(res.error));
    const page = res.data.items as CampaignView[];
    setItems(more ? [...items(), ...page] : page);
    setCursor(res.data.nextCursor);
  }

  createEffect(on([() => params.q, () => params.status], () => load(false)));

  return (
    <section>
      <div class="title-row">
        <h1>Campaigns</h1>
        <A href="/campaigns/new" class="button-link">
          Start a campaign
        </A>
      </div>
      <form
        class="toolbar"
        aria-label="Search and filter campaigns"
        onSubmit={(e) => {
          e.preventDefault();
          setParams({ q: query().trim() || undefined });
        }}
      >
        <label class="sr-only" for="search">
          Search campaigns
        </label>
        <input
          id="search"
          type="search"
          placeholder="Search campaigns"
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit" class="secondary">
          Search
        </button>
        <label class="sr-only" for="status">
          Show
        </label>
        <select
          id="status"
          value={params.status ?? "active"}
          onChange={(e) => setParams({ status: e.currentTarget.value })}
        >
          <option value="active">Active</option>
          <option value="closed">Closed</option>
          <option value="all">All</option>
        </select>
      </form>
      <ProblemBox problem={problem()} retry={() => load(false)} />
      <Show when={!loading() && !problem() && items().length === 0}>
        <Empty>{params.q ? `No campaigns match “${params.q}”.` : "No campaigns here yet."}</Empty>
      </Show>
      <ul class="cards">
        <For each={items()}>
          {(c) => (
            <li class="card">
              <h2>
                <A href={`/campaigns/${c.id}`}>{c.title}</A>
              </h2>
              <Show when={c.status === "closed"}>
                <span class="badge">Closed</span>
              </Show>
              <p class="excerpt">
                {c.description.slice(0, 160)}
                {c.description.length > 160 ? "…" : ""}
              </p>
              <GoalBar
                raisedMinor={c.raisedMinor}
                goalMinor={c.goalMinor}
                currency={c.currency}
                donorCount={c.donorCount}
              />
            </li>
          )}
        </For>
      </ul>
      <Show when={loading()}>
        <Loading label="Loading campaigns…" />
      </Show>
      <Show when={!loading() && cursor()}>
        <button type="button" class="secondary more" onClick={() => load(true)}>
          Show more
        </button>
      </Show>
    </section>
  );
}
