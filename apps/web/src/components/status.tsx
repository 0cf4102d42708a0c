// Loading, error and empty states, the same everywhere: a problem's title and detail, and a retry.
import { type JSX, Show } from "solid-js";
import type { ProblemDetails } from "../api/problem";

export function Loading(props: { label?: string }) {
  return (
    <output class="state" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {props.label ?? "Loading…"}
    </output>
  );
}

export function ProblemBox(props: { problem: ProblemDetails | null | undefined; retry?: () => void }) {
  return (
    <Show when={props.problem}>
      {(p) => (
        <div class="problem" role="alert">
          <strong>{p().title}</strong>
          <Show when={p().detail && p().detail !== p().title}>
            <p>{p().detail}</p>
          </Show>
          <Show when={props.retry}>
            <button type="button" class="link" onClick={() => props.retry?.()}>
              Try again
            </button>
          </Show>
        </div>
      )}
    </Show>
  );
}

export function Empty(props: { children: JSX.Element }) {
  return <p class="state empty">{props.children}</p>;
}
