// The owner's actions on a campaign page (edit, close) as a lazy chunk, loaded only for its owner or an
// admin, in a Suspense of its own so the page never waits for it.
import { type ComponentProps, lazy, Suspense } from "solid-js";

const Actions = lazy(() => import("../pages/owner/actions"));

export function OwnerActions(props: ComponentProps<typeof Actions>) {
  return (
    <Suspense>
      <Actions {...props} />
    </Suspense>
  );
}
