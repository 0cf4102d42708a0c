// Support (/me/support): the signed-in user's own support room (support:<userId>), shared with the
// administrators.
import { Show } from "solid-js";
import ChatRoom from "../../components/chat-room";
import { useServices } from "../../context";
import { SignedIn } from "./guard";

export default function Support() {
  const { api } = useServices();
  return (
    <SignedIn what="Support">
      <section>
        <h1>Support</h1>
        <p>Questions about a donation or a campaign? Write here; the CareForAll team answers in this room.</p>
        <Show when={api.session.user()}>
          {(u) => <ChatRoom room={`support:${u().id}`} title="Your support conversation" />}
        </Show>
      </section>
    </SignedIn>
  );
}
