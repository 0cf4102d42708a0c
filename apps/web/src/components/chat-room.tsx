// A chat room (a campaign's public Q&A, a user's support room): history newest first with "older"
// pages, live chat.message frames over the tab's one WebSocket, and an optimistic send reconciled by clientId.
import { createEffect, createSignal, For, on, onCleanup, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../api/problem";
import { useServices } from "../context";
import { ProblemBox } from "./status";

interface Message {
  /** Absent while the message is only ours (not yet echoed by the room). */
  id?: string;
  clientId?: string;
  userId: string;
  name: string;
  text: string;
  at: string;
  state?: "sending" | "unsent";
}

const PAGE = 30;
const MAX_CHARS = 2000;
/** How long a sent message may wait for its echo before it is shown as not delivered. */
const ECHO_TIMEOUT_MS = 10_000;

export default function ChatRoom(props: { room: string; title?: string; readOnlyNote?: string }) {
  const { api, realtime, newKey } = useServices();
  const user = api.session.user;
  const [messages, setMessages] = createSignal<Message[]>([]);
  const [loading, setLoading] = createSignal(true);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [more, setMore] = createSignal(false);
  const [text, setText] = createSignal("");
  const [formError, setFormError] = createSignal("");
  const timers = new Set<ReturnType<typeof setTimeout>>();

  /** Merges server messages in, each once (by id; an echo replaces our optimistic copy by clientId). */
  function merge(incoming: Message[], where: "top" | "bottom") {
    setMessages((list) => {
      let next = list;
      const fresh: Message[] = [];
      for (const m of incoming) {
        if (next.some((x) => x.id === m.id)) continue;
        const mine = m.clientId ? next.findIndex((x) => !x.id && x.clientId === m.clientId) : -1;
        if (mine >= 0) next = next.map((x, i) => (i === mine ? m : x));
        else fresh.push(m);
      }
      return where === "top" ? [...fresh, ...next] : [...next, ...fresh];
    });
  }

  async function load(before?: string) {
    setLoading(true);
    setProblem(null);
    try {
      const res = await api.client.chat
        .rooms({ room: props.room })
        .messages.get({ query: before ? { limit: PAGE, before } : { limit: PAGE } });
      if (!res.data) throw toProblem(res.error);
      const page = res.data as unknown as Message[];
      merge(page, before ? "bottom" : "top");
      if (before || messages().length <= page.length) setMore(page.length === PAGE);
    } catch (err) {
      setProblem(err as ProblemDetails);
    } finally {
      setLoading(false);
    }
  }

  createEffect(
    on(
      () => props.room,
      (room) => {
        setMessages([]);
        void load();
        onCleanup(realtime.joinRoom(room));
      },
    ),
  );
  const offFrame = realtime.on((frame) => {
    if (frame.type === "chat.message" && frame.room === props.room) merge([frame], "top");
  });
  // Frames missed while the socket was away are not replayed: read the newest page again.
  const offReconnect = realtime.onReconnect(() => void load());
  onCleanup(() => {
    offFrame();
    offReconnect();
    for (const t of timers) clearTimeout(t);
  });

  function post(body: string, clientId: string) {
    const sent = realtime.say(props.room, body, clientId);
    const mark = (state: Message["state"]) =>
      setMessages((list) => list.map((m) => (!m.id && m.clientId === clientId ? { ...m, state } : m)));
    if (!sent) return mark("unsent");
    mark("sending");
    const t = setTimeout(() => {
      timers.delete(t);
      mark("unsent");
    }, ECHO_TIMEOUT_MS);
    timers.add(t);
  }

  function submit(e: Event) {
    e.preventDefault();
    const u = user();
    const body = text();
    if (!u) return;
    if (body.trim().length === 0) return setFormError("Write a message first.");
    if (body.length > MAX_CHARS) return setFormError(`At most ${MAX_CHARS} characters (${body.length} now).`);
    setFormError("");
    const clientId = newKey();
    setMessages((list) => [
      { clientId, userId: u.id, name: u.name, text: body, at: new Date().toISOString(), state: "sending" },
      ...list,
    ]);
    setText("");
    post(body, clientId);
  }

  const oldestId = () => {
    const list = messages();
    for (let i = list.length - 1; i >= 0; i--) if (list[i]?.id) return list[i]?.id;
    return undefined;
  };

  return (
    <section class="chat" aria-label={props.title ?? "Chat"}>
      <h2>{props.title ?? "Chat"}</h2>
      <Show when={user()} fallback={<p class="state">{props.readOnlyNote ?? "Sign in to post a message."}</p>}>
        <form class="chat-form" onSubmit={submit} novalidate>
          <label for={`chat-${props.room}`}>Your message</label>
          <textarea
            id={`chat-${props.room}`}
            rows={2}
            maxLength={MAX_CHARS}
            value={text()}
            aria-invalid={formError() ? "true" : undefined}
            aria-describedby={formError() ? `chat-err-${props.room}` : undefined}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              // Enter sends, Shift+Enter starts a new line.
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
            }}
          />
          <Show when={formError()}>
            <p class="field-error" id={`chat-err-${props.room}`} role="alert">
              {formError()}
            </p>
          </Show>
          <button type="submit">Send</button>
        </form>
      </Show>
      <ProblemBox problem={problem()} retry={() => void load()} />
      <Show when={!loading() || messages().length > 0} fallback={<output class="state">Loading messages…</output>}>
        <Show when={messages().length > 0} fallback={<p class="state empty">No messages yet.</p>}>
          <ol class="chat-list" aria-live="polite" data-testid="chat-list">
            <For each={messages()}>
              {(m) => (
                <li class="chat-message" classList={{ pending: m.state === "sending", unsent: m.state === "unsent" }}>
                  <span class="chat-meta">
                    <strong>{m.name}</strong> <time dateTime={m.at}>{new Date(m.at).toLocaleString()}</time>
                  </span>
                  <p class="chat-text" data-testid="chat-text">
                    {m.text}
                  </p>
                  <Show when={m.state === "unsent"}>
                    <span class="chat-status">
                      Not delivered.{" "}
                      <button type="button" class="link" onClick={() => m.clientId && post(m.text, m.clientId)}>
                        Retry
                      </button>
                    </span>
                  </Show>
                  <Show when={m.state === "sending"}>
                    <span class="chat-status">Sending…</span>
                  </Show>
                </li>
              )}
            </For>
          </ol>
        </Show>
      </Show>
      <Show when={more()}>
        <button type="button" class="link" disabled={loading()} onClick={() => void load(oldestId())}>
          Older messages
        </button>
      </Show>
    </section>
  );
}
