// The chat room as a lazy chunk: the campaign page (a donor page, under the JS budget) loads it only
// once it renders, in a Suspense of its own so the page never waits for it.
import { type ComponentProps, lazy, Suspense } from "solid-js";

const Room = lazy(() => import("./chat-room"));

export function ChatRoom(props: ComponentProps<typeof Room>) {
  return (
    <Suspense fallback={<output class="state">Loading the chat…</output>}>
      <Room {...props} />
    </Suspense>
  );
}
