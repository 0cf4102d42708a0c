// Notifications (/me/notifications): the signed-in user's notifications, newest first, all or unread
// only, a page at a time; mark one or all read. New ones pushed over the socket appear at the top.
import { A } from "@solidjs/router";
import { createSignal, onCleanup, onMount, Show } from "solid-js";
import { toProblem } from "../../api/problem";
import { createPaged, PagedList, type PageOf } from "../../components/paged-list";
import { ProblemBox } from "../../components/status";
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
  const [unreadOnly, setUnreadOnly] = createSignal(false);
  const list = createPaged<Note>(async (after) => {
    const query = {
      limit: PAGE,
      ...(after ? { cursor: after } : {}),
      ...(unreadOnly() ? { unread: true } : {}),
    };
    const res = await api.client.notifications.get({ query });
    if (!res.data) throw toProblem(res.error);
    return res.data as unknown as PageOf<Note>;
  });
  const { setItems, problem, setProblem, load } = list;
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
      <PagedList
        list={list}
        loadingLabel="Loading notifications…"
        empty={unreadOnly() ? "Nothing unread." : "No notifications yet."}
        testId="notifications"
        more="More notifications"
      >
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
      </PagedList>
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
