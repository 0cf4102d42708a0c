// The signed-in screens' gate: a guest is asked to sign in (and comes back here after).
import { A, useLocation } from "@solidjs/router";
import { type JSX, Show } from "solid-js";
import { useServices } from "../../context";

export function SignedIn(props: { what: string; children: JSX.Element }) {
  const { api } = useServices();
  const location = useLocation();
  return (
    <Show
      when={api.session.user()}
      fallback={
        <section>
          <h1>{props.what}</h1>
          <p>
            <A href={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in</A> to see{" "}
            {props.what.toLowerCase()}.
          </p>
        </section>
      }
    >
      {props.children}
    </Show>
  );
}
