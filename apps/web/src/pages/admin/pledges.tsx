// Pledges by state (GET /api/admin/pledges?status=, cursor paging) with a refund button on captured
// ones: confirmed first, then POST /api/pledges/:id/refund, whose answer or problem is shown.
import { createResource, createSignal, For, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../../api/problem";
import { Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { formatMoney } from "../../lib/money";

const STATUSES = ["captured", "pending", "authorized", "failed", "cancelled", "expired", "refunded"] as const;
type Status = (typeof STATUSES)[number];

interface PledgeRow {
  id: string;
  campaignId: string;
  amountMinor: number;
  currency: string;
  status: string;
  failureReason: string | null;
  createdAt: string;
}

export function PledgesPanel() {
  const { api } = useServices();
  const [status, setStatus] = createSignal<Status | "">("captured");
  // The cursors of the pages before this one, so "Previous" goes back without the API paging backwards.
  const [cursors, setCursors] = createSignal<(string | undefined)[]>([undefined]);
  const cursor = () => cursors().at(-1);
  const [result, setResult] = createSignal<{ ok: boolean; text: string; problem?: ProblemDetails } | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);

  const [page, { refetch }] = createResource(
    () => ({ status: status(), cursor: cursor() }),
    async (q) => {
      const query: { limit: number; status?: Status; cursor?: string } = { limit: 10 };
      if (q.status) query.status = q.status;
      if (q.cursor) query.cursor = q.cursor;
      const res = await api.client.admin.pledges.get({ query });
      if (!res.data) throw toProblem(res.error);
      return res.data as unknown as { items: PledgeRow[]; nextCursor: string | null };
    },
  );

  async function refund(p: PledgeRow) {
    if (!globalThis.confirm(`Refund ${formatMoney(p.amountMinor, p.currency)} (pledge ${p.id.slice(0, 8)})?`)) return;
    setBusy(p.id);
    setResult(null);
    try {
      const res = await api.client.pledges({ id: p.id }).refund.post();
      if (res.data) {
        setResult({ ok: true, text: `Refund started for pledge ${p.id.slice(0, 8)}: it will become refunded.` });
        void refetch();
      } else {
        const problem = toProblem(res.error);
        setResult({ ok: false, text: problem.title, problem });
      }
    } catch (e) {
      const problem = toProblem(e);
      setResult({ ok: false, text: problem.title, problem });
    } finally {
      setBusy(null);
    }
  }

  return (
    <section class="admin-card" aria-labelledby="pledges-h">
      <div class="admin-head">
        <h2 id="pledges-h">Pledges by state</h2>
        <label class="admin-inline">
          Status{" "}
          <select
            value={status()}
            onChange={(e) => {
              setStatus(e.currentTarget.value as Status | "");
              setCursors([undefined]);
            }}
          >
            <option value="">any</option>
            <For each={STATUSES}>{(s) => <option value={s}>{s}</option>}</For>
          </select>
        </label>
      </div>
      <Show when={result()}>
        {(r) => (
          <Show when={!r().ok} fallback={<output class="notice">{r().text}</output>}>
            <ProblemBox problem={r().problem} />
          </Show>
        )}
      </Show>
      <Show when={page.error}>
        <ProblemBox problem={page.error} retry={refetch} />
      </Show>
      <Show when={page.latest} fallback={<Show when={!page.error}>{<Loading label="Loading pledges…" />}</Show>}>
        {(p) => (
          <>
            <Show when={p().items.length > 0} fallback={<p class="state empty">No pledges in this state.</p>}>
              <div class="admin-scroll">
                <table class="admin-table">
                  <thead>
                    <tr>
                      <th scope="col">Pledge</th>
                      <th scope="col">Amount</th>
                      <th scope="col">Status</th>
                      <th scope="col">Created</th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={p().items}>
                      {(row) => (
                        <tr>
                          <th scope="row">
                            <a href={`/pledges/${row.id}`}>{row.id.slice(0, 8)}</a>
                          </th>
                          <td>{formatMoney(row.amountMinor, row.currency)}</td>
                          <td>
                            {row.status}
                            <Show when={row.failureReason}>
                              <span class="muted"> ({row.failureReason})</span>
                            </Show>
                          </td>
                          <td>{new Date(row.createdAt).toLocaleString()}</td>
                          <td>
                            <Show when={row.status === "captured"}>
                              <button
                                type="button"
                                class="secondary"
                                disabled={busy() !== null}
                                aria-label={`Refund pledge ${row.id.slice(0, 8)}`}
                                onClick={() => void refund(row)}
                              >
                                {busy() === row.id ? "Refunding…" : "Refund"}
                              </button>
                            </Show>
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
            <div class="admin-pager">
              <button
                type="button"
                class="secondary"
                disabled={cursors().length < 2}
                onClick={() => setCursors((c) => c.slice(0, -1))}
              >
                Previous
              </button>
              <button
                type="button"
                class="secondary"
                disabled={!p().nextCursor}
                onClick={() => {
                  const next = p().nextCursor;
                  if (next) setCursors((c) => [...c, next]);
                }}
              >
                Next
              </button>
            </div>
          </>
        )}
      </Show>
    </section>
  );
}
