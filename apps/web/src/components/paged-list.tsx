// A list read a page at a time behind a cursor (newest first): its state and load, and its view —
// loading until the first page, an empty state, the rows, a "More" button while there is a next page.
import { createSignal, For, type JSX, Show } from "solid-js";
import type { ProblemDetails } from "../api/problem";
import { Empty, Loading } from "./status";

export interface PageOf<T> {
  items: T[];
  nextCursor: string | null;
}

/** A paged list's state; `load(null)` reads the first page again, `load(cursor())` appends the next. */
export function createPaged<T>(fetchPage: (after: string | null) => Promise<PageOf<T>>) {
  const [items, setItems] = createSignal<T[]>([]);
  const [cursor, setCursor] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [loaded, setLoaded] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);

  async function load(after: string | null) {
    setLoading(true);
    setProblem(null);
    try {
      const page = await fetchPage(after);
      setItems((list) => (after ? [...list, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setLoaded(true);
    } catch (err) {
      setProblem(err as ProblemDetails);
    } finally {
      setLoading(false);
    }
  }

  return { items, setItems, cursor, loading, loaded, problem, setProblem, load };
}

export type Paged<T> = ReturnType<typeof createPaged<T>>;

export function PagedList<T>(props: {
  list: Paged<T>;
  loadingLabel: string;
  empty: JSX.Element;
  testId: string;
  /** The next page's button text. */
  more: string;
  children: (item: T) => JSX.Element;
}) {
  return (
    <Show
      when={props.list.loaded()}
      fallback={<Show when={!props.list.problem()}>{<Loading label={props.loadingLabel} />}</Show>}
    >
      <Show when={props.list.items().length > 0} fallback={<Empty>{props.empty}</Empty>}>
        <ul class="me-list" data-testid={props.testId}>
          <For each={props.list.items()}>{(item) => props.children(item)}</For>
        </ul>
        <Show when={props.list.cursor()}>
          <button
            type="button"
            class="link"
            disabled={props.list.loading()}
            onClick={() => void props.list.load(props.list.cursor())}
          >
            {props.list.loading() ? "Loading…" : props.more}
          </button>
        </Show>
      </Show>
    </Show>
  );
}
