// Operator notifications: the stored ones (GET /api/notifications — an admin also gets the operator
// kinds) merged with the live `notification` frames of the tab's socket, newest first, no duplicates.
import { createMemo, createResource, createSignal, For, onCleanup, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";

interface Note {
  id: string;
  kind: string;
  title: string;
  body: string;
  at: string;
}

const OPERATOR = new Set(["pledge.stuck", "audit.drift", "webhook.signature_failures"]);

export function NotificationsPanel() {
  const { api, realtime } = useServices();
  const [stored, { refetch }] = createResource(async () => {
    const res = await api.client.notifications.get({ query: { limit: 30 } });
    if (!res.data) throw toProblem(res.error);
    return res.data.items as Note[];
  });
  const [live, setLive] = createSignal<Note[]>([]);
  const off = realtime.on((frame) => {
    if (frame.type === "notification")
      setLive((l) => [{ id: frame.id, kind: frame.kind, title: frame.title, body: frame.body, at: frame.at }, ...l]);
  });
  const offReconnect = realtime.onReconnect(() => void refetch());
  onCleanup(() => {
    off();
    offReconnect();
  });

  const all = createMemo(() => {
    const seen = new Set<string>();
    const out: Note[] = [];
    for (const n of [...live(), ...(stored.latest ?? [])]) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      out.push(n);
    }
    return out.sort((a, b) => b.at.localeCompare(a.at));
  });

  return (
    <section class="admin-card" aria-labelledby="notes-h" aria-busy={stored.loading} data-testid="notifications">
      <div class="admin-head">
        <h2 id="notes-h">Notifications</h2>
        <button type="button" class="secondary" onClick={() => void refetch()}>
          Reload
        </button>
      </div>
      <Show when={stored.error}>
        <ProblemBox problem={stored.error} retry={refetch} />
      </Show>
      <Show
        when={stored.latest || live().length > 0}
        fallback={
          <Show when={!stored.error}>
            <Loading />
          </Show>
        }
      >
        <Show when={all().length > 0} fallback={<p class="state empty">Nothing to report.</p>}>
          <ul class="admin-notes" aria-live="polite">
            <For each={all()}>
              {(n) => (
                <li class={OPERATOR.has(n.kind) ? "admin-operator" : undefined}>
                  <strong>{n.title}</strong> <span class="badge">{n.kind}</span>
                  <p>{n.body}</p>
                  <time class="muted" datetime={n.at}>
                    {new Date(n.at).toLocaleString()}
                  </time>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </Show>
    </section>
  );
}
