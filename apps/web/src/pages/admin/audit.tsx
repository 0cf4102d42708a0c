// The money audit: per campaign, the displayed total, captured − refunded, the bank balance and the
// drift between them; drift or stuck pledges are called out in words and colour. Polled every 5 s,
// which also feeds the live chart (pledges captured per second, captured amount).
import { createEffect, createResource, createSignal, For, onCleanup, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { formatMoney } from "../../lib/money";
import { Sparkline } from "./sparkline";

export interface AuditReport {
  campaigns: {
    campaignId: string;
    raisedMinor: number;
    capturedMinusRefundedMinor: number;
    bankBalanceMinor: number;
    driftMinor: number;
  }[];
  totalDriftMinor: number;
  stuckPledges: number;
  checkedAt: string;
}

const POLL_MS = 5_000;
const HISTORY = 30;
const MAX_FOLLOWS = 50;
const units = new Intl.NumberFormat();

export function AuditPanel() {
  const { api, realtime } = useServices();
  // Titles and currencies for the rows (best effort: the audit itself knows only ids and minor units).
  const [names] = createResource(async () => {
    const res = await api.client.campaigns.get({ query: { limit: 100 } }).catch(() => null);
    const map = new Map<string, { title: string; currency: string }>();
    for (const c of (res?.data?.items ?? []) as { id: string; title: string; currency: string }[])
      map.set(c.id, { title: c.title, currency: c.currency });
    return map;
  });
  const money = (minor: number, id: string) => {
    const currency = names.latest?.get(id)?.currency;
    return currency ? formatMoney(minor, currency) : units.format(minor);
  };
  const [audit, { refetch }] = createResource(async () => {
    const res = await api.client.admin.audit.get();
    if (!res.data) throw toProblem(res.error);
    const report = res.data as AuditReport;
    sample(report);
    return report;
  });

  // The chart: each audit gives the captured sum; between two audits, donations per second come from
  // the campaign.totals frames of the followed campaigns (pledgeCount deltas).
  const [rate, setRate] = createSignal<number[]>([]);
  const [captured, setCaptured] = createSignal<number[]>([]);
  let last: { at: number; captured: number } | undefined;
  let pushed = 0;
  function sample(report: AuditReport) {
    const now = Date.now();
    const total = report.campaigns.reduce((s, c) => s + c.capturedMinusRefundedMinor, 0);
    if (last) {
      const seconds = Math.max(1, (now - last.at) / 1000);
      setRate((r) => [...r, pushed / seconds].slice(-HISTORY));
    }
    pushed = 0;
    last = { at: now, captured: total };
    setCaptured((c) => [...c, total].slice(-HISTORY));
  }
  // Every audited campaign is followed (up to MAX_FOLLOWS), so its campaign.totals frames arrive: the
  // rise of their pledgeCount between two audits is the donations of that interval.
  const follows = new Map<string, () => void>();
  const counts = new Map<string, number>();
  createEffect(() => {
    for (const c of (audit.latest?.campaigns ?? []).slice(0, MAX_FOLLOWS))
      if (!follows.has(c.campaignId)) follows.set(c.campaignId, realtime.followCampaign(c.campaignId));
  });
  const off = realtime.on((frame) => {
    if (frame.type !== "campaign.totals" || !follows.has(frame.campaignId)) return;
    const before = counts.get(frame.campaignId);
    if (before !== undefined && frame.pledgeCount > before) pushed += frame.pledgeCount - before;
    counts.set(frame.campaignId, frame.pledgeCount);
  });
  const timer = setInterval(() => {
    if (!audit.loading) void refetch();
  }, POLL_MS);
  onCleanup(() => {
    clearInterval(timer);
    off();
    for (const unfollow of follows.values()) unfollow();
  });

  const alarm = (a: AuditReport) => a.totalDriftMinor !== 0 || a.stuckPledges > 0;

  return (
    <section class="admin-card" aria-labelledby="audit-h">
      <div class="admin-head">
        <h2 id="audit-h">Money audit</h2>
        <button type="button" class="secondary" onClick={() => void refetch()} disabled={audit.loading}>
          {audit.loading ? "Checking…" : "Run again"}
        </button>
      </div>
      <Show when={audit.error}>
        <ProblemBox problem={audit.error} retry={refetch} />
      </Show>
      <Show when={audit.latest} fallback={<Show when={!audit.error}>{<Loading label="Running the audit…" />}</Show>}>
        {(a) => (
          <>
            <div
              class={alarm(a()) ? "admin-summary admin-alarm" : "admin-summary admin-ok"}
              role={alarm(a()) ? "alert" : "status"}
              data-testid="audit-summary"
            >
              <strong>{alarm(a()) ? "⚠ Problem: " : "✓ All consistent: "}</strong>
              total drift <span data-testid="total-drift">{units.format(a().totalDriftMinor)}</span> (minor units),{" "}
              <span data-testid="stuck">{a().stuckPledges}</span> stuck pledge{a().stuckPledges === 1 ? "" : "s"}.
              <span class="muted"> Checked {new Date(a().checkedAt).toLocaleTimeString()}.</span>
            </div>
            <div class="admin-charts">
              <figure>
                <Sparkline values={rate()} label="Donations per second over the last audits" />
                <figcaption>
                  Donations/s: <strong data-testid="rate">{(rate().at(-1) ?? 0).toFixed(2)}</strong>
                </figcaption>
              </figure>
              <figure>
                <Sparkline values={captured()} label="Captured amount over the last audits" />
                <figcaption>
                  Captured − refunded (minor units): <strong>{units.format(captured().at(-1) ?? 0)}</strong>
                </figcaption>
              </figure>
            </div>
            <Show when={a().campaigns.length > 0} fallback={<p class="state empty">No campaigns yet.</p>}>
              <div class="admin-scroll">
                <table class="admin-table">
                  <caption class="muted">Per campaign: the total shown, the pledge records, the bank</caption>
                  <thead>
                    <tr>
                      <th scope="col">Campaign</th>
                      <th scope="col">Raised (shown)</th>
                      <th scope="col">Captured − refunded</th>
                      <th scope="col">Bank balance</th>
                      <th scope="col">Drift</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={a().campaigns}>
                      {(c) => (
                        <tr class={c.driftMinor !== 0 ? "admin-bad" : undefined}>
                          <th scope="row">
                            <a href={`/campaigns/${c.campaignId}`}>
                              {names.latest?.get(c.campaignId)?.title ?? c.campaignId.slice(0, 8)}
                            </a>
                          </th>
                          <td>{money(c.raisedMinor, c.campaignId)}</td>
                          <td>{money(c.capturedMinusRefundedMinor, c.campaignId)}</td>
                          <td>{money(c.bankBalanceMinor, c.campaignId)}</td>
                          <td>
                            {money(c.driftMinor, c.campaignId)}
                            {c.driftMinor !== 0 ? " ⚠ drift" : ""}
                          </td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          </>
        )}
      </Show>
    </section>
  );
}
