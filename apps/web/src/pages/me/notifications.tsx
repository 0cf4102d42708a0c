// Notifications (/me/notifications): the signed-in user's notifications, newest first, all or unread
// only, a page at a time; mark one or all read. New ones pushed over the socket appear at the top.
import { A } from "@solidjs/router";
import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../../api/problem";
import { Empty, Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { SignedIn } from "./guard";
import { bumpUnread, clearUnread, refreshUnread } from "./unread";

interface Note {
  id: string;
  kind: string;
  title: string;
  body: string;
  at: string;
  readAt: string | null;
  pledgeId?: string;
  campaignId?: string;
}

const PAGE = 20;

function NotificationList() {
  const { api, realtime } = useServices();
  const [items, setItems] = createSignal<Note[]>([]);
  const [cursor, setCursor] = createSignal<string | null>(null);
  const [unreadOnly, setUnreadOnly] = createSignal(false);
  const [loading, setLoading] = createSignal(false);
  const [loaded, setLoaded] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);

  async function load(after: string | null) {
    setLoading(true);
    setProblem(null);
    try {
      const query = {
        limit: PAGE,
        ...(after ? { cursor: after } : {}),
        ...(unreadOnly() ? { unread: true } : {}),
      };
      const res = await api.client.notifications.get({ query });
      if (!res.data) throw toProblem(res.error);
      const page = res.data as unknown as { items: Note[]; nextCursor: string | null };
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
  const offFrame = realtime.on((frame) => {
    if (frame.type !== "notification") return;
    const { type: _type, ...note } = frame;
    setItems((list) => (list.some((n) => n.id === note.id) ? list : [{ ...note, readAt: null }, ...list]));
  });
  const offReconnect = realtime.onReconnect(() => void load(null));
  onCleanup(() => {
    offFrame();
    offReconnect();
  });

  async function markRead(note: Note) {
    setProblem(null);
    const res = await api.client.notifications({ id: note.id }).read.post();
    if (res.error) return setProblem(toProblem(res.error));
    const at = new Date().toISOString();
    setItems((list) =>
      unreadOnly()
        ? list.filter((n) => n.id !== note.id)
        : list.map((n) => (n.id === note.id ? { ...n, readAt: at } : n)),
    );
    bumpUnread(-1);
  }

  async function readAll() {
    setProblem(null);
    const res = await api.client.notifications["read-all"].post();
    if (res.error) return setProblem(toProblem(res.error));
    clearUnread();
    void refreshUnread(api);
    await load(null);
  }

  const link = (n: Note) =>
    n.pledgeId ? `/pledges/${n.pledgeId}` : n.campaignId ? `/campaigns/${n.campaignId}` : null;

  return (
    <section>
      <h1>Notifications</h1>
      <div class="me-toolbar">
        <label>
          <input
            type="checkbox"
            checked={unreadOnly()}
            onChange={(e) => {
              setUnreadOnly(e.currentTarget.checked);
              void load(null);
            }}
          />{" "}
          Unread only
        </label>
        <button type="button" class="link" onClick={() => void readAll()}>
          Mark all read
        </button>
      </div>
      <ProblemBox problem={problem()} retry={() => void load(null)} />
      <Show when={loaded()} fallback={<Show when={!problem()}>{<Loading label="Loading notifications…" />}</Show>}>
        <Show
          when={items().length > 0}
          fallback={<Empty>{unreadOnly() ? "Nothing unread." : "No notifications yet."}</Empty>}
        >
          <ul class="me-list" data-testid="notifications">
            <For each={items()}>
              {(n) => (
                <li classList={{ unread: !n.readAt }}>
                  <strong>{n.title}</strong>
                  <Show when={!n.readAt}>
                    <span class="badge">New</span>
                  </Show>{" "}
                  <time dateTime={n.at}>{new Date(n.at).toLocaleString()}</time>
                  <p>{n.body}</p>
                  <Show when={link(n)}>{(href) => <A href={href()}>Open</A>}</Show>
                  <Show when={!n.readAt}>
                    {" "}
                    <button type="button" class="link" onClick={() => void markRead(n)}>
                      Mark read<span class="sr-only">: {n.title}</span>
                    </button>
                  </Show>
                </li>
              )}
            </For>
          </ul>
          <Show when={cursor()}>
            <button type="button" class="link" disabled={loading()} onClick={() => void load(cursor())}>
              {loading() ? "Loading…" : "More notifications"}
            </button>
          </Show>
        </Show>
      </Show>
    </section>
  );
}

export default function Notifications() {
  return (
    <SignedIn what="Notifications">
      <NotificationList />
    </SignedIn>
  );
}
